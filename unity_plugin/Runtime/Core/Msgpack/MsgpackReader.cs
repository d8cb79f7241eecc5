// Reads one msgpack value into plain objects: null, bool, long, ulong (above long.MaxValue),
// double, string, byte[] (bin), List<object> (array), MsgpackMap (map, keys of any type, in order),
// MsgpackExt (ext types, kept so that a field check can refuse them). Strings must be valid UTF-8.
using System;
using System.Collections.Generic;
using System.Text;

namespace Avbridge.Core.Msgpack
{
    public sealed class MsgpackMap
    {
        public readonly List<KeyValuePair<object, object>> Entries = new List<KeyValuePair<object, object>>();
    }

    public sealed class MsgpackExt
    {
        public readonly sbyte Type;
        public readonly byte[] Data;
        public MsgpackExt(sbyte type, byte[] data) { Type = type; Data = data; }
    }

    /// <summary>Input that is not msgpack: truncated, or a reserved byte (0xc1).</summary>
    public sealed class MsgpackFormatException : Exception
    {
        public MsgpackFormatException(string message) : base(message) { }
    }

    /// <summary>A msgpack str whose bytes are not valid UTF-8.</summary>
    public sealed class MsgpackUtf8Exception : Exception
    {
        public MsgpackUtf8Exception() : base("string is not valid UTF-8") { }
    }

    public sealed class MsgpackReader
    {
        const int MaxDepth = 512;   // deep nesting is refused rather than overflowing the stack
        static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);
        readonly byte[] _data;
        int _pos;

        public MsgpackReader(byte[] data) { _data = data; }

        public int Position { get { return _pos; } }
        public bool AtEnd { get { return _pos >= _data.Length; } }

        public object Read() { return Read(0); }

        object Read(int depth)
        {
            if (depth > MaxDepth) throw new MsgpackFormatException("nesting too deep");
            byte b = Byte();
            if (b <= 0x7f) return (long)b;
            if (b >= 0xe0) return (long)(sbyte)b;
            if ((b & 0xf0) == 0x80) return ReadMap(b & 0x0f, depth);
            if ((b & 0xf0) == 0x90) return ReadArray(b & 0x0f, depth);
            if ((b & 0xe0) == 0xa0) return ReadString(b & 0x1f);
            switch (b)
            {
                case 0xc0: return null;
                case 0xc2: return false;
                case 0xc3: return true;
                case 0xc4: return Bytes((int)Unsigned(1));
                case 0xc5: return Bytes((int)Unsigned(2));
                case 0xc6: return Bytes(Length(4));
                case 0xc7: return Ext(Length(1));
                case 0xc8: return Ext(Length(2));
                case 0xc9: return Ext(Length(4));
                case 0xca: return (double)BitConverter.ToSingle(BitConverter.GetBytes((int)Unsigned(4)), 0);
                case 0xcb: return BitConverter.Int64BitsToDouble((long)Unsigned(8));
                case 0xcc: return (long)Unsigned(1);
                case 0xcd: return (long)Unsigned(2);
                case 0xce: return (long)Unsigned(4);
                case 0xcf:
                    {
                        ulong u = Unsigned(8);
                        if (u <= long.MaxValue) return (long)u;
                        return u;
                    }
                case 0xd0: return (long)(sbyte)Unsigned(1);
                case 0xd1: return (long)(short)Unsigned(2);
                case 0xd2: return (long)(int)Unsigned(4);
                case 0xd3: return (long)Unsigned(8);
                case 0xd4: return Ext(1);
                case 0xd5: return Ext(2);
                case 0xd6: return Ext(4);
                case 0xd7: return Ext(8);
                case 0xd8: return Ext(16);
                case 0xd9: return ReadString((int)Unsigned(1));
                case 0xda: return ReadString((int)Unsigned(2));
                case 0xdb: return ReadString(Length(4));
                case 0xdc: return ReadArray((int)Unsigned(2), depth);
                case 0xdd: return ReadArray(Length(4), depth);
                case 0xde: return ReadMap((int)Unsigned(2), depth);
                case 0xdf: return ReadMap(Length(4), depth);
                default: throw new MsgpackFormatException("reserved byte 0xc1");
            }
        }

        MsgpackMap ReadMap(int count, int depth)
        {
            var map = new MsgpackMap();
            for (int i = 0; i < count; i++)
            {
                object key = Read(depth + 1);
                // Python's msgpack cannot hash an array or map key and refuses the input; so do we.
                if (key is List<object> || key is MsgpackMap) throw new MsgpackFormatException("unhashable map key");
                object value = Read(depth + 1);
                map.Entries.Add(new KeyValuePair<object, object>(key, value));
            }
            return map;
        }

        List<object> ReadArray(int count, int depth)
        {
            var list = new List<object>(Math.Min(count, 1024));
            for (int i = 0; i < count; i++) list.Add(Read(depth + 1));
            return list;
        }

        string ReadString(int length)
        {
            Need(length);
            try
            {
                string s = StrictUtf8.GetString(_data, _pos, length);
                _pos += length;
                return s;
            }
            catch (DecoderFallbackException)
            {
                throw new MsgpackUtf8Exception();
            }
        }

        MsgpackExt Ext(int length)
        {
            sbyte type = (sbyte)Byte();
            return new MsgpackExt(type, Bytes(length));
        }

        byte[] Bytes(int length)
        {
            Need(length);
            var result = new byte[length];
            Buffer.BlockCopy(_data, _pos, result, 0, length);
            _pos += length;
            return result;
        }

        int Length(int bytes)
        {
            ulong n = Unsigned(bytes);
            if (n > int.MaxValue) throw new MsgpackFormatException("length too large");
            return (int)n;
        }

        ulong Unsigned(int bytes)
        {
            Need(bytes);
            ulong v = 0;
            for (int i = 0; i < bytes; i++) v = (v << 8) | _data[_pos++];
            return v;
        }

        byte Byte()
        {
            Need(1);
            return _data[_pos++];
        }

        void Need(int n)
        {
            if (n < 0 || _data.Length - _pos < n) throw new MsgpackFormatException("truncated");
        }
    }
}
