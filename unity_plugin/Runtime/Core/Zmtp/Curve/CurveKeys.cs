// CURVE keys as ZeroMQ writes them: Z85 text (RFC 32), in the certificate files pyzmq's zmq.auth
// (and `avbridge keys`) makes: `public-key = "..."` and, in the secret file, `secret-key = "..."`.
using System;
using System.IO;
using System.Text.RegularExpressions;

namespace Avbridge.Core.Zmtp.Curve
{
    public static class Z85
    {
        const string Alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

        public static byte[] Decode(string text)
        {
            if (text == null || text.Length % 5 != 0) throw new FormatException("Z85 text is a multiple of 5 characters");
            var bytes = new byte[text.Length / 5 * 4];
            for (int i = 0, o = 0; i < text.Length; i += 5, o += 4)
            {
                uint value = 0;
                for (int k = 0; k < 5; k++)
                {
                    int digit = Alphabet.IndexOf(text[i + k]);
                    if (digit < 0) throw new FormatException("'" + text[i + k] + "' is not a Z85 character");
                    value = value * 85 + (uint)digit;
                }
                bytes[o] = (byte)(value >> 24); bytes[o + 1] = (byte)(value >> 16); bytes[o + 2] = (byte)(value >> 8); bytes[o + 3] = (byte)value;
            }
            return bytes;
        }

        public static string Encode(byte[] data)
        {
            if (data.Length % 4 != 0) throw new ArgumentException("Z85 encodes a multiple of 4 bytes");
            var chars = new char[data.Length / 4 * 5];
            for (int i = 0, o = 0; i < data.Length; i += 4, o += 5)
            {
                uint value = (uint)(data[i] << 24 | data[i + 1] << 16 | data[i + 2] << 8 | data[i + 3]);
                for (int k = 4; k >= 0; k--) { chars[o + k] = Alphabet[(int)(value % 85)]; value /= 85; }
            }
            return new string(chars);
        }
    }

    public sealed class CurveKeyPair
    {
        public readonly byte[] Public, Secret;
        public CurveKeyPair(byte[] publicKey, byte[] secretKey) { Public = publicKey; Secret = secretKey; }

        /// <summary>A certificate file's keys; Secret is null for a public certificate.</summary>
        public static CurveKeyPair Load(string path)
        {
            if (!File.Exists(path)) throw new FileNotFoundException("no CURVE key file at " + path + " (make one with `avbridge keys`)", path);
            string text = File.ReadAllText(path);
            var pub = Regex.Match(text, "public-key\\s*=\\s*\"([^\"]{40})\"");
            var sec = Regex.Match(text, "secret-key\\s*=\\s*\"([^\"]{40})\"");
            if (!pub.Success) throw new FormatException(path + " is not a CURVE certificate (no public-key)");
            return new CurveKeyPair(Z85.Decode(pub.Groups[1].Value), sec.Success ? Z85.Decode(sec.Groups[1].Value) : null);
        }

        /// <summary>Both halves of a connection's CURVE settings from what a user types: the
        /// server's public key (40 z85 characters, or its .key file) and this client's
        /// .key_secret file, written into `options`. Both empty: true, and the link is plaintext.
        /// One without the other, a missing file or a malformed key: false, and `error` says
        /// which.</summary>
        public static bool TryConfigure(string serverKey, string clientKeyFile, ZmtpOptions options, out string error)
        {
            error = null;
            serverKey = (serverKey ?? "").Trim();
            clientKeyFile = (clientKeyFile ?? "").Trim();
            if (serverKey.Length == 0 && clientKeyFile.Length == 0) return true;
            if (serverKey.Length == 0 || clientKeyFile.Length == 0)
            {
                error = "CURVE needs both the server's public key and this client's .key_secret file (avbridge keys NAME)";
                return false;
            }
            try
            {
                // Z85 has '/' among its characters: a file that exists wins, else 40 characters are a key.
                byte[] server = serverKey.Length == 40 && !File.Exists(serverKey) ? Z85.Decode(serverKey) : Load(serverKey).Public;
                var pair = Load(clientKeyFile);
                if (pair.Secret == null)
                {
                    error = clientKeyFile + " holds only a public key; give this client's .key_secret file";
                    return false;
                }
                options.CurveServerKey = server;
                options.CurveClientKeys = pair;
                return true;
            }
            catch (Exception ex)
            {
                error = ex.Message;
                return false;
            }
        }
    }
}
