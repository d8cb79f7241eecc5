// The msgpack subset protocol v1 uses, written canonically: shortest integers, every float as
// float64, map keys sorted by their UTF-8 bytes. Canonical output makes the bytes comparable with
// protocol/vectors. Hand-written because MessagePack-CSharp cannot be restored here (no NuGet) and
// fails under IL2CPP/AOT in Unity; the protocol needs only a few hundred lines of it.
using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace Avbridge.Core.Msgpack
{
    public sealed class MsgpackWriter
    {
        static readonly UTF8Encoding Utf8 = new UTF8Encoding(false, true);
        readonly MemoryStream _out = new MemoryStream(256);

        public static byte[] Pack(object value)
        {
            var w = new MsgpackWriter();
            w.Write(value);
            return w._out.ToArray();
        }

        public void Write(object value)
        {
            if (value == null) { _out.WriteByte(0xc0); return; }
            if (value is bool) { _out.WriteByte((bool)value ? (byte)0xc3 : (byte)0xc2); return; }
            if (value is string) { WriteString((string)value); return; }
            if (value is double) { WriteDouble((double)value); return; }
            if (value is float) { WriteDouble((float)value); return; }
            if (value is ulong) { WriteUnsigned((ulong)value); return; }
            if (value is long || value is int || value is short || value is sbyte || value is uint
                || value is ushort || value is byte)
            {
                WriteInteger(Convert.ToInt64(value)); return;
            }
            if (value is byte[]) { WriteBinary((byte[])value); return; }
            var map = value as IDictionary<string, object>;
            if (map != null) { WriteMap(map); return; }
            var list = value as IList;
            if (list != null)
            {
                WriteHeader(list.Count, 0x90, 15, 0xdc, 0xdd);
                foreach (var item in list) Write(item);
                return;
            }
            throw new ArgumentException("msgpack: cannot write a " + value.GetType().Name);
        }

        void WriteMap(IDictionary<string, object> map)
        {
            var keys = new List<KeyValuePair<byte[], string>>(map.Count);
            foreach (var key in map.Keys) keys.Add(new KeyValuePair<byte[], string>(Utf8.GetBytes(key), key));
            keys.Sort((a, b) => CompareBytes(a.Key, b.Key));
            WriteHeader(map.Count, 0x80, 15, 0xde, 0xdf);
            foreach (var key in keys)
            {
                WriteString(key.Value);
                Write(map[key.Value]);
            }
        }

        static int CompareBytes(byte[] a, byte[] b)
        {
            int n = Math.Min(a.Length, b.Length);
            for (int i = 0; i < n; i++)
                if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
            return a.Length.CompareTo(b.Length);
        }

        void WriteHeader(int count, byte fixBase, int fixMax, byte code16, byte code32)
        {
            if (count <= fixMax) _out.WriteByte((byte)(fixBase | count));
            else if (count <= 0xffff) { _out.WriteByte(code16); WriteBigEndian((ulong)count, 2); }
            else { _out.WriteByte(code32); WriteBigEndian((ulong)count, 4); }
        }

        void WriteString(string s)
        {
            byte[] bytes = Utf8.GetBytes(s);
            int n = bytes.Length;
            if (n < 32) _out.WriteByte((byte)(0xa0 | n));
            else if (n <= 0xff) { _out.WriteByte(0xd9); _out.WriteByte((byte)n); }
            else if (n <= 0xffff) { _out.WriteByte(0xda); WriteBigEndian((ulong)n, 2); }
            else { _out.WriteByte(0xdb); WriteBigEndian((ulong)n, 4); }
            _out.Write(bytes, 0, n);
        }

        void WriteBinary(byte[] bytes)
        {
            int n = bytes.Length;
            if (n <= 0xff) { _out.WriteByte(0xc4); _out.WriteByte((byte)n); }
            else if (n <= 0xffff) { _out.WriteByte(0xc5); WriteBigEndian((ulong)n, 2); }
            else { _out.WriteByte(0xc6); WriteBigEndian((ulong)n, 4); }
            _out.Write(bytes, 0, n);
        }

        void WriteInteger(long v)
        {
            if (v >= 0) { WriteUnsigned((ulong)v); return; }
            if (v >= -32) _out.WriteByte((byte)(sbyte)v);
            else if (v >= sbyte.MinValue) { _out.WriteByte(0xd0); _out.WriteByte((byte)(sbyte)v); }
            else if (v >= short.MinValue) { _out.WriteByte(0xd1); WriteBigEndian((ulong)v, 2); }
            else if (v >= int.MinValue) { _out.WriteByte(0xd2); WriteBigEndian((ulong)v, 4); }
            else { _out.WriteByte(0xd3); WriteBigEndian((ulong)v, 8); }
        }

        void WriteUnsigned(ulong v)
        {
            if (v <= 0x7f) _out.WriteByte((byte)v);
            else if (v <= 0xff) { _out.WriteByte(0xcc); _out.WriteByte((byte)v); }
            else if (v <= 0xffff) { _out.WriteByte(0xcd); WriteBigEndian(v, 2); }
            else if (v <= 0xffffffff) { _out.WriteByte(0xce); WriteBigEndian(v, 4); }
            else { _out.WriteByte(0xcf); WriteBigEndian(v, 8); }
        }

        void WriteDouble(double d)
        {
            _out.WriteByte(0xcb);
            WriteBigEndian((ulong)BitConverter.DoubleToInt64Bits(d), 8);
        }

        void WriteBigEndian(ulong v, int bytes)
        {
            for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) _out.WriteByte((byte)(v >> shift));
        }
    }
}
