// An utterance's audio as fixed-size blocks of float samples. Appending never copies what is
// already stored (a growing array did, under the lock the audio thread waits on), and blocks the
// playhead has passed go back to a shared pool, so an endless stream (a microphone, an hour-long
// idle) holds a bounded amount of memory.
using System;
using System.Collections.Generic;

namespace Avbridge.Core.Streaming
{
    public sealed class BlockPool
    {
        public const int BlockSize = 4096;
        readonly Stack<float[]> _free = new Stack<float[]>();
        readonly int _keep;

        public BlockPool(int keep = 256) { _keep = keep; }

        public float[] Rent()
        {
            lock (_free) if (_free.Count > 0) return _free.Pop();
            return new float[BlockSize];
        }

        public void Return(float[] block)
        {
            lock (_free) if (_free.Count < _keep) _free.Push(block);
        }
    }

    /// <summary>Not thread-safe: the stream's lock guards it.</summary>
    public sealed class SampleBlocks
    {
        readonly BlockPool _pool;
        readonly List<float[]> _blocks = new List<float[]>();
        long _firstBlock;           // index of _blocks[0] among all the utterance's blocks

        public SampleBlocks(BlockPool pool) { _pool = pool; }

        /// <summary>Samples written so far (from the utterance's start).</summary>
        public long Written { get; private set; }

        /// <summary>Samples copied into storage, ever: equal to Written (nothing is copied twice).</summary>
        public long Copied { get; private set; }

        /// <summary>Blocks held now.</summary>
        public int BlocksHeld { get { return _blocks.Count; } }

        /// <summary>Append int16 little-endian PCM from `pcm[start..start+bytes)`.</summary>
        public void AppendPcm16(byte[] pcm, int start, int bytes)
        {
            int n = bytes / 2;
            for (int i = 0; i < n; i++)
            {
                long index = Written + i;
                int block = (int)(index / BlockPool.BlockSize - _firstBlock);
                while (block >= _blocks.Count) _blocks.Add(_pool.Rent());
                int p = start + 2 * i;
                _blocks[block][index % BlockPool.BlockSize] = (short)(pcm[p] | (pcm[p + 1] << 8)) / 32768f;
            }
            Written += n;
            Copied += n;
        }

        /// <summary>Sample `index`; 0 for one already released or not written.</summary>
        public float this[long index]
        {
            get
            {
                if (index < 0 || index >= Written) return 0f;
                long block = index / BlockPool.BlockSize - _firstBlock;
                return block < 0 ? 0f : _blocks[(int)block][index % BlockPool.BlockSize];
            }
        }

        /// <summary>Give back the blocks wholly before sample `index`.</summary>
        public void ReleaseBefore(long index)
        {
            long keepFrom = index / BlockPool.BlockSize;
            int drop = (int)Math.Min(_blocks.Count, keepFrom - _firstBlock);
            if (drop <= 0) return;
            for (int i = 0; i < drop; i++) _pool.Return(_blocks[i]);
            _blocks.RemoveRange(0, drop);
            _firstBlock += drop;
        }

        public void ReleaseAll()
        {
            foreach (var b in _blocks) _pool.Return(b);
            _firstBlock += _blocks.Count;
            _blocks.Clear();
        }
    }

    /// <summary>An utterance's frames (63 floats each), pooled, with those far behind the playhead
    /// given back. Not thread-safe: the stream's lock guards it.</summary>
    public sealed class FrameStore
    {
        readonly Stack<float[]> _pool;
        readonly List<float[]> _frames = new List<float[]>();

        const int MaxPooled = 2048;

        public FrameStore(Stack<float[]> pool) { _pool = pool; }

        /// <summary>Index of the first frame held.</summary>
        public long First { get; private set; }

        /// <summary>One past the last frame received.</summary>
        public long End { get { return First + _frames.Count; } }

        public int Held { get { return _frames.Count; } }

        public float[] this[long index] { get { return _frames[(int)(index - First)]; } }

        /// <summary>`count` frames of float32 little-endian from `data[start..]`.</summary>
        public void Append(byte[] data, int start, int count)
        {
            for (int i = 0; i < count; i++)
            {
                var frame = Rent();
                Buffer.BlockCopy(data, start + i * AvatarStream.FrameWidth * 4, frame, 0, AvatarStream.FrameWidth * 4);
                if (!BitConverter.IsLittleEndian) SwapFloats(frame);
                _frames.Add(frame);
            }
        }

        /// <summary>Give back the frames before `index` (keeping the one at it).</summary>
        public void DropBefore(long index)
        {
            int drop = (int)Math.Min(_frames.Count, index - First);
            if (drop <= 0) return;
            lock (_pool) for (int i = 0; i < drop && _pool.Count < MaxPooled; i++) _pool.Push(_frames[i]);
            _frames.RemoveRange(0, drop);
            First += drop;
        }

        public void DropAll() { DropBefore(End); }

        float[] Rent()
        {
            lock (_pool) if (_pool.Count > 0) return _pool.Pop();
            return new float[AvatarStream.FrameWidth];
        }

        static void SwapFloats(float[] frame)
        {
            for (int i = 0; i < frame.Length; i++)
            {
                var bytes = BitConverter.GetBytes(frame[i]);
                Array.Reverse(bytes);
                frame[i] = BitConverter.ToSingle(bytes, 0);
            }
        }
    }
}
