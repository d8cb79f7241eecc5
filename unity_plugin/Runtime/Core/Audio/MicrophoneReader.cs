// Reading a looping microphone clip as it fills: how many new samples there are (the write
// position wraps round the clip), copied into buffers made once, converted to int16 for the wire.
// The engine supplies GetData; everything else runs without it, so the wrap and the conversion are
// tested here.
using System;

namespace Avbridge.Core.Audio
{
    public sealed class MicrophoneReader
    {
        public readonly int ClipSamples;
        readonly float[] _floats;
        readonly short[] _pcm;
        int _readPosition;

        /// <summary>Samples sent so far (the next piece's offset in the utterance).</summary>
        public long Sent { get; private set; }

        public MicrophoneReader(int clipSamples)
        {
            ClipSamples = clipSamples;
            _floats = new float[clipSamples];
            _pcm = new short[clipSamples];
        }

        /// <summary>Start a new utterance from the microphone's write position now.</summary>
        public void Restart(int writePosition)
        {
            _readPosition = writePosition;
            Sent = 0;
        }

        public int Available(int writePosition)
        {
            return ((writePosition - _readPosition) % ClipSamples + ClipSamples) % ClipSamples;
        }

        /// <summary>If at least `minimum` new samples are there, read them with `getData(buffer,
        /// offset)` (which must wrap as AudioClip.GetData does) and return them as int16 PCM in a
        /// reused array; `count` says how many are valid. Otherwise null.</summary>
        public short[] Read(int writePosition, int minimum, Func<float[], int, bool> getData, out int count)
        {
            count = Available(writePosition);
            if (count < minimum || count == 0) return null;
            var floats = count == _floats.Length ? _floats : Window(count);
            getData(floats, _readPosition);
            for (int i = 0; i < count; i++)
            {
                float v = floats[i];
                _pcm[i] = (short)((v < -1f ? -1f : v > 1f ? 1f : v) * 32767f);
            }
            _readPosition = (_readPosition + count) % ClipSamples;
            Sent += count;
            return _pcm;
        }

        // AudioClip.GetData fills the whole array it is given, so the read needs an array of
        // exactly `count`; these are kept per size (the sizes repeat: frames of the game loop).
        readonly System.Collections.Generic.Dictionary<int, float[]> _windows = new System.Collections.Generic.Dictionary<int, float[]>();

        float[] Window(int count)
        {
            float[] w;
            if (!_windows.TryGetValue(count, out w))
            {
                if (_windows.Count > 64) _windows.Clear();
                _windows[count] = w = new float[count];
            }
            return w;
        }
    }
}
