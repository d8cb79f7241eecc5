// ZMTP 3.1 framing and command bodies (RFC 37): the byte layouts, apart from the socket's threads.
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace Avbridge.Core.Zmtp
{
    static class ZmtpFrames
    {
        internal const byte FlagMore = 0x01, FlagLong = 0x02, FlagCommand = 0x04;

        /// <summary>Write one frame (flags, size, body) into `wire` at `pos`; returns the end.</summary>
        internal static int PutFrame(byte[] wire, int pos, byte[] body, byte flags)
        {
            if (body.LongLength > 255)
            {
                wire[pos++] = (byte)(flags | FlagLong);
                ulong n = (ulong)body.LongLength;
                for (int i = 0; i < 8; i++) wire[pos++] = (byte)(n >> (56 - 8 * i));
            }
            else
            {
                wire[pos++] = flags;
                wire[pos++] = (byte)body.Length;
            }
            Buffer.BlockCopy(body, 0, wire, pos, body.Length);
            return pos + body.Length;
        }

        internal static void WriteCommandName(Stream s, string name)
        {
            s.WriteByte((byte)name.Length);
            var bytes = Encoding.ASCII.GetBytes(name);
            s.Write(bytes, 0, bytes.Length);
        }

        internal static void WriteProperty(Stream s, string name, byte[] value)
        {
            WriteCommandName(s, name);
            s.WriteByte((byte)(value.Length >> 24));
            s.WriteByte((byte)(value.Length >> 16));
            s.WriteByte((byte)(value.Length >> 8));
            s.WriteByte((byte)value.Length);
            s.Write(value, 0, value.Length);
        }

        internal static string CommandName(byte[] body)
        {
            if (body.Length < 1 || body.Length < 1 + body[0]) throw new IOException("malformed ZMTP command");
            return Encoding.ASCII.GetString(body, 1, body[0]);
        }

        internal static Dictionary<string, byte[]> ReadProperties(byte[] body, int pos)
        {
            var properties = new Dictionary<string, byte[]>();
            while (pos < body.Length)
            {
                int nameLength = body[pos++];
                if (pos + nameLength + 4 > body.Length) throw new IOException("malformed READY properties");
                string name = Encoding.ASCII.GetString(body, pos, nameLength).ToLowerInvariant();
                pos += nameLength;
                int valueLength = (body[pos] << 24) | (body[pos + 1] << 16) | (body[pos + 2] << 8) | body[pos + 3];
                pos += 4;
                if (valueLength < 0 || pos + valueLength > body.Length) throw new IOException("malformed READY properties");
                var value = new byte[valueLength];
                Buffer.BlockCopy(body, pos, value, 0, valueLength);
                pos += valueLength;
                properties[name] = value;
            }
            return properties;
        }
    }
}
