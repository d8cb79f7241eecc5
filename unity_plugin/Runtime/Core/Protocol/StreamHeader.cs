// The two messages that are most of the traffic, `audio` and `frames`, read without building a
// Message: a flat msgpack map scanned in place, numbers read as they stand, the utterance id
// matched against the few ids seen last so no string is made. At 60 fps with audio that is the
// difference between ~470 KB/s of garbage per NPC and almost none.
//
// It accepts only what it fully checks (SPEC.md 7's rules for these two types, and nothing
// unusual: no other fields, no duplicate keys); for anything else TryRead returns false
// and the caller decodes the message the general way, which produces the exact error.
using System;
using System.Text;

namespace Avbridge.Core.Protocol
{
    /// <summary>Strings made from UTF-8 bytes, the last few kept so a repeat makes none.</summary>
    sealed class StringCache
    {
        static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);
        readonly byte[][] _bytes;
        readonly string[] _strings;
        int _next;

        public StringCache(int size) { _bytes = new byte[size][]; _strings = new string[size]; }

        /// <summary>The string, or null if the bytes are not UTF-8 (the general path says so).</summary>
        public string Get(byte[] data, int start, int length)
        {
            for (int k = 0; k < _strings.Length; k++)
            {
                var known = _bytes[k];
                if (known == null || known.Length != length) continue;
                bool same = true;
                for (int i = 0; i < length && same; i++) same = known[i] == data[start + i];
                if (same) return _strings[k];
            }
            string value;
            try { value = StrictUtf8.GetString(data, start, length); }
            catch (ArgumentException) { return null; }
            var bytes = new byte[length];
            Buffer.BlockCopy(data, start, bytes, 0, length);
            _bytes[_next] = bytes;
            _strings[_next] = value;
            _next = (_next + 1) % _strings.Length;
            return value;
        }
    }

    public sealed class StreamHeader
    {
        public bool IsAudio;            // else frames (or, with IsEvent, an event)
        public bool IsEvent;
        public string Name, Text;       // events: the name, and the word / phoneme / emotion (or null)
        public string Utterance;
        public double Time;
        public long Offset;             // audio: first sample
        public long First, Count;       // frames

        readonly StringCache _ids = new StringCache(4);
        readonly StringCache _words = new StringCache(64);   // phonemes, event names, emotions repeat

        /// <summary>An `event` (no bulk frame) read the same way: true when valid.</summary>
        public bool TryReadEvent(byte[] header)
        {
            return Read(header, null, true);
        }

        /// <summary>True when `header` (with `bulk`, its one bulk frame) is a valid audio or frames
        /// message; its fields are then in this object.</summary>
        public bool TryRead(byte[] header, byte[] bulk)
        {
            return bulk != null && Read(header, bulk, false);
        }

        bool Read(byte[] header, byte[] bulk, bool eventOnly)
        {
            int pos = 0;
            IsEvent = false;
            Name = Text = null;
            int n;
            if (header.Length == 0) return false;
            byte b = header[pos++];
            if ((b & 0xf0) == 0x80) n = b & 0x0f;
            else if (b == 0xde && header.Length >= 3) { n = (header[1] << 8) | header[2]; pos = 3; }
            else return false;
            bool haveV = false, haveType = false, haveSeq = false, haveSession = false, haveUtt = false, haveTime = false;
            bool haveOffset = false, haveFirst = false, haveCount = false;
            for (int k = 0; k < n; k++)
            {
                int keyStart, keyLength;
                if (!Str(header, ref pos, out keyStart, out keyLength)) return false;
                if (Is(header, keyStart, keyLength, "v")) { long v; if (haveV || !UInt(header, ref pos, out v) || v != Schema.Version) return false; haveV = true; }
                else if (Is(header, keyStart, keyLength, "type"))
                {
                    int s, l;
                    if (haveType || !Str(header, ref pos, out s, out l)) return false;
                    if (eventOnly) { if (!Is(header, s, l, "event")) return false; IsEvent = true; }
                    else if (Is(header, s, l, "audio")) IsAudio = true;
                    else if (Is(header, s, l, "frames")) IsAudio = false;
                    else return false;
                    haveType = true;
                }
                else if (Is(header, keyStart, keyLength, "seq")) { long v; if (haveSeq || !UInt(header, ref pos, out v)) return false; haveSeq = true; }
                else if (Is(header, keyStart, keyLength, "session")) { int s, l; if (haveSession || !Str(header, ref pos, out s, out l)) return false; haveSession = true; }
                else if (Is(header, keyStart, keyLength, "utterance"))
                {
                    int s, l;
                    if (haveUtt || !Str(header, ref pos, out s, out l)) return false;
                    Utterance = _ids.Get(header, s, l);
                    if (Utterance == null) return false;
                    haveUtt = true;
                }
                else if (Is(header, keyStart, keyLength, "time")) { if (haveTime || !Float(header, ref pos, out Time)) return false; haveTime = true; }
                else if (Is(header, keyStart, keyLength, "offset")) { if (haveOffset || !UInt(header, ref pos, out Offset)) return false; haveOffset = true; }
                else if (Is(header, keyStart, keyLength, "first")) { if (haveFirst || !UInt(header, ref pos, out First)) return false; haveFirst = true; }
                else if (Is(header, keyStart, keyLength, "count")) { if (haveCount || !UInt(header, ref pos, out Count)) return false; haveCount = true; }
                else if (eventOnly && Is(header, keyStart, keyLength, "name"))
                {
                    int s, l;
                    if (Name != null || !Str(header, ref pos, out s, out l) || (Name = _words.Get(header, s, l)) == null) return false;
                }
                else if (eventOnly && (Is(header, keyStart, keyLength, "text") || Is(header, keyStart, keyLength, "phoneme")))
                {
                    int s, l;
                    if (Text != null || !Str(header, ref pos, out s, out l) || (Text = _words.Get(header, s, l)) == null) return false;
                }
                else if (eventOnly && Is(header, keyStart, keyLength, "viseme"))
                {
                    int s, l;
                    if (!Str(header, ref pos, out s, out l) || _words.Get(header, s, l) == null) return false;
                }
                else if (eventOnly && Is(header, keyStart, keyLength, "end")) { double end; if (!Float(header, ref pos, out end)) return false; }
                else if (eventOnly && Is(header, keyStart, keyLength, "final"))
                {
                    if (pos >= header.Length || (header[pos] != 0xc2 && header[pos] != 0xc3)) return false;
                    pos++;
                }
                else return false;   // a field this path does not check: the general path decides
            }
            if (pos != header.Length || !haveV || !haveType || !haveSeq || !haveSession || !haveUtt || !haveTime) return false;
            if (eventOnly) return Name != null;
            if (bulk == null) return false;
            if (bulk.Length > Schema.DefaultMaxBulkBytes) return false;
            if (IsAudio) return haveOffset && bulk.Length % 2 == 0;
            return haveFirst && haveCount && Count <= int.MaxValue / (Schema.FrameWidth * 4) && bulk.Length == Count * Schema.FrameWidth * 4;
        }

        static bool Is(byte[] data, int start, int length, string name)
        {
            if (length != name.Length) return false;
            for (int i = 0; i < length; i++) if (data[start + i] != name[i]) return false;
            return true;
        }

        static bool Str(byte[] d, ref int pos, out int start, out int length)
        {
            start = length = 0;
            if (pos >= d.Length) return false;
            byte b = d[pos++];
            if ((b & 0xe0) == 0xa0) length = b & 0x1f;
            else if (b == 0xd9 && pos < d.Length) length = d[pos++];
            else if (b == 0xda && pos + 1 < d.Length) { length = (d[pos] << 8) | d[pos + 1]; pos += 2; }
            else return false;
            if (pos + length > d.Length) return false;
            start = pos;
            pos += length;
            return true;
        }

        static bool UInt(byte[] d, ref int pos, out long value)
        {
            value = 0;
            if (pos >= d.Length) return false;
            byte b = d[pos++];
            int size;
            if (b <= 0x7f) { value = b; return true; }
            switch (b)
            {
                case 0xcc: size = 1; break;
                case 0xcd: size = 2; break;
                case 0xce: size = 4; break;
                case 0xcf: size = 8; break;
                default: return false;   // negative or not an integer
            }
            if (pos + size > d.Length) return false;
            ulong u = 0;
            for (int i = 0; i < size; i++) u = (u << 8) | d[pos + i];
            pos += size;
            if (u > long.MaxValue) return false;
            value = (long)u;
            return true;
        }

        static bool Float(byte[] d, ref int pos, out double value)
        {
            value = 0;
            if (pos >= d.Length) return false;
            byte b = d[pos];
            if (b == 0xcb && pos + 9 <= d.Length)
            {
                long bits = 0;
                for (int i = 1; i <= 8; i++) bits = (bits << 8) | d[pos + i];
                value = BitConverter.Int64BitsToDouble(bits);
                pos += 9;
            }
            else if (b == 0xca && pos + 5 <= d.Length)
            {
                int bits = (d[pos + 1] << 24) | (d[pos + 2] << 16) | (d[pos + 3] << 8) | d[pos + 4];
                value = new SingleBits { Int = bits }.Float;
                pos += 5;
            }
            else
            {
                long v;
                if (!UInt(d, ref pos, out v)) return false;
                value = v;
            }
            return !double.IsNaN(value) && !double.IsInfinity(value);
        }

        [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Explicit)]
        struct SingleBits
        {
            [System.Runtime.InteropServices.FieldOffset(0)] public int Int;
            [System.Runtime.InteropServices.FieldOffset(0)] public float Float;
        }
    }
}
