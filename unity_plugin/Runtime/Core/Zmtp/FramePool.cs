// Byte arrays of exact sizes, reused. The stream's frame bodies come in a handful of sizes (a
// frames batch, an audio piece, headers that differ by a byte or two), and the codec wants arrays
// whose Length is the frame's, so a pool keyed by size keeps the receive path free of garbage once
// warm. An array that is not given back is simply collected.
using System.Collections.Generic;

namespace Avbridge.Core.Zmtp
{
    public sealed class FramePool
    {
        readonly Dictionary<int, Stack<byte[]>> _free = new Dictionary<int, Stack<byte[]>>();
        readonly int _perSize, _maxSizes, _maxBytes;

        /// <summary>Keep at most `perSize` arrays of each size, for at most `maxSizes` sizes, each
        /// at most `maxBytes` long (bigger ones are rare and not worth holding).</summary>
        public FramePool(int perSize = 16, int maxSizes = 64, int maxBytes = 256 * 1024)
        {
            _perSize = perSize;
            _maxSizes = maxSizes;
            _maxBytes = maxBytes;
        }

        public byte[] Rent(int size)
        {
            lock (_free)
            {
                Stack<byte[]> stack;
                if (_free.TryGetValue(size, out stack) && stack.Count > 0) return stack.Pop();
            }
            return new byte[size];
        }

        public void Return(byte[] array)
        {
            if (array == null || array.Length > _maxBytes) return;
            lock (_free)
            {
                Stack<byte[]> stack;
                if (!_free.TryGetValue(array.Length, out stack))
                {
                    if (_free.Count >= _maxSizes) return;
                    _free[array.Length] = stack = new Stack<byte[]>(_perSize);
                }
                if (stack.Count < _perSize) stack.Push(array);
            }
        }
    }
}
