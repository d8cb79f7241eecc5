// The NaCl primitives CurveZMQ (RFC 26) is built on, in plain C#: X25519 (RFC 7748), XSalsa20 and
// Poly1305, and crypto_box / crypto_secretbox as NaCl defines them.
//
// Written by hand on purpose: the package takes no native library (libsodium would need one per
// platform, and IL2CPP builds for Quest and iOS) and no NuGet package. These are the reference
// algorithms, kept short: X25519 on System.Numerics.BigInteger (a handshake costs a few
// milliseconds, once a connection), Salsa20 and Poly1305 on 32-bit words. Checked against RFC 7748's
// and RFC 8439's vectors and against libsodium's output (tests: CurveTests).
using System;
using System.Numerics;

namespace Avbridge.Core.Zmtp.Curve
{
    public static class NaCl
    {
        // -- X25519 ---------------------------------------------------------------------------
        static readonly BigInteger P = BigInteger.Pow(2, 255) - 19;
        static readonly BigInteger A24 = 121665;

        /// <summary>X25519(k, u): 32-byte scalar and u-coordinate, little-endian (RFC 7748 5).</summary>
        public static byte[] X25519(byte[] scalar, byte[] u)
        {
            var k = (byte[])scalar.Clone();
            k[0] &= 248; k[31] &= 127; k[31] |= 64;
            var uu = (byte[])u.Clone();
            uu[31] &= 127;
            BigInteger x1 = FromLittle(uu), x2 = 1, z2 = 0, x3 = x1, z3 = 1;
            int swap = 0;
            for (int t = 254; t >= 0; t--)
            {
                int bit = (k[t >> 3] >> (t & 7)) & 1;
                swap ^= bit;
                if (swap == 1) { var a = x2; x2 = x3; x3 = a; a = z2; z2 = z3; z3 = a; }
                swap = bit;
                BigInteger A = Mod(x2 + z2), AA = Mod(A * A), B = Mod(x2 - z2), BB = Mod(B * B), E = Mod(AA - BB);
                BigInteger C = Mod(x3 + z3), D = Mod(x3 - z3), DA = Mod(D * A), CB = Mod(C * B);
                x3 = Mod((DA + CB) * (DA + CB));
                z3 = Mod(x1 * Mod((DA - CB) * (DA - CB)));
                x2 = Mod(AA * BB);
                z2 = Mod(E * (AA + A24 * E));
            }
            if (swap == 1) { x2 = x3; z2 = z3; }
            return ToLittle(Mod(x2 * BigInteger.ModPow(z2, P - 2, P)), 32);
        }

        public static byte[] PublicKey(byte[] secret)
        {
            var basePoint = new byte[32];
            basePoint[0] = 9;
            return X25519(secret, basePoint);
        }

        static BigInteger Mod(BigInteger v) { v %= P; return v.Sign < 0 ? v + P : v; }

        static BigInteger FromLittle(byte[] b)
        {
            var unsigned = new byte[b.Length + 1];
            Buffer.BlockCopy(b, 0, unsigned, 0, b.Length);   // the extra zero byte keeps it positive
            return new BigInteger(unsigned);
        }

        static byte[] ToLittle(BigInteger v, int length)
        {
            var raw = v.ToByteArray();
            var result = new byte[length];
            Buffer.BlockCopy(raw, 0, result, 0, Math.Min(length, raw.Length));
            return result;
        }

        // -- Salsa20 ----------------------------------------------------------------------------
        static readonly uint[] Sigma = { 0x61707865, 0x3320646e, 0x79622d32, 0x6b206574 };   // "expand 32-byte k"

        static uint Rot(uint v, int c) { return (v << c) | (v >> (32 - c)); }

        static uint Load(byte[] b, int i) { return (uint)(b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)); }

        static void Store(byte[] b, int i, uint v) { b[i] = (byte)v; b[i + 1] = (byte)(v >> 8); b[i + 2] = (byte)(v >> 16); b[i + 3] = (byte)(v >> 24); }

        /// <summary>20 rounds over the state x; with `addInput`, the Salsa20 core (input added back), else HSalsa20's.</summary>
        static void Rounds(uint[] x)
        {
            for (int i = 0; i < 20; i += 2)
            {
                x[4] ^= Rot(x[0] + x[12], 7); x[8] ^= Rot(x[4] + x[0], 9); x[12] ^= Rot(x[8] + x[4], 13); x[0] ^= Rot(x[12] + x[8], 18);
                x[9] ^= Rot(x[5] + x[1], 7); x[13] ^= Rot(x[9] + x[5], 9); x[1] ^= Rot(x[13] + x[9], 13); x[5] ^= Rot(x[1] + x[13], 18);
                x[14] ^= Rot(x[10] + x[6], 7); x[2] ^= Rot(x[14] + x[10], 9); x[6] ^= Rot(x[2] + x[14], 13); x[10] ^= Rot(x[6] + x[2], 18);
                x[3] ^= Rot(x[15] + x[11], 7); x[7] ^= Rot(x[3] + x[15], 9); x[11] ^= Rot(x[7] + x[3], 13); x[15] ^= Rot(x[11] + x[7], 18);
                x[1] ^= Rot(x[0] + x[3], 7); x[2] ^= Rot(x[1] + x[0], 9); x[3] ^= Rot(x[2] + x[1], 13); x[0] ^= Rot(x[3] + x[2], 18);
                x[6] ^= Rot(x[5] + x[4], 7); x[7] ^= Rot(x[6] + x[5], 9); x[4] ^= Rot(x[7] + x[6], 13); x[5] ^= Rot(x[4] + x[7], 18);
                x[11] ^= Rot(x[10] + x[9], 7); x[8] ^= Rot(x[11] + x[10], 9); x[9] ^= Rot(x[8] + x[11], 13); x[10] ^= Rot(x[9] + x[8], 18);
                x[12] ^= Rot(x[15] + x[14], 7); x[13] ^= Rot(x[12] + x[15], 9); x[14] ^= Rot(x[13] + x[12], 13); x[15] ^= Rot(x[14] + x[13], 18);
            }
        }

        static uint[] State(byte[] key, byte[] input16, int inputOffset)
        {
            var s = new uint[16];
            s[0] = Sigma[0]; s[5] = Sigma[1]; s[10] = Sigma[2]; s[15] = Sigma[3];
            for (int i = 0; i < 4; i++) { s[1 + i] = Load(key, 4 * i); s[11 + i] = Load(key, 16 + 4 * i); }
            for (int i = 0; i < 4; i++) s[6 + i] = Load(input16, inputOffset + 4 * i);
            return s;
        }

        /// <summary>HSalsa20: a 32-byte subkey from a key and 16 bytes of input.</summary>
        public static byte[] HSalsa20(byte[] key, byte[] input16, int inputOffset = 0)
        {
            var x = State(key, input16, inputOffset);
            Rounds(x);
            var o = new byte[32];
            int[] pick = { 0, 5, 10, 15, 6, 7, 8, 9 };
            for (int i = 0; i < 8; i++) Store(o, 4 * i, x[pick[i]]);
            return o;
        }

        /// <summary>XSalsa20 keystream XORed into data[offset..offset+count) (24-byte nonce).</summary>
        public static void XSalsa20Xor(byte[] key, byte[] nonce24, byte[] data, int offset, int count)
        {
            var subkey = HSalsa20(key, nonce24, 0);
            var input = new byte[16];
            Buffer.BlockCopy(nonce24, 16, input, 0, 8);
            var block = new byte[64];
            for (long counter = 0, done = 0; done < count; counter++, done += 64)
            {
                for (int i = 0; i < 8; i++) input[8 + i] = (byte)(counter >> (8 * i));
                var s = State(subkey, input, 0);
                var x = (uint[])s.Clone();
                Rounds(x);
                for (int i = 0; i < 16; i++) Store(block, 4 * i, x[i] + s[i]);
                int n = (int)Math.Min(64, count - done);
                for (int i = 0; i < n; i++) data[offset + done + i] ^= block[i];
            }
        }

        // -- Poly1305 ---------------------------------------------------------------------------
        static readonly BigInteger P1305 = BigInteger.Pow(2, 130) - 5;

        /// <summary>The 16-byte Poly1305 tag of data[offset..offset+count) under a 32-byte one-time key.</summary>
        public static byte[] Poly1305(byte[] key, byte[] data, int offset, int count)
        {
            var rBytes = new byte[16];
            Buffer.BlockCopy(key, 0, rBytes, 0, 16);
            rBytes[3] &= 15; rBytes[7] &= 15; rBytes[11] &= 15; rBytes[15] &= 15;
            rBytes[4] &= 252; rBytes[8] &= 252; rBytes[12] &= 252;
            BigInteger r = FromLittle(rBytes), acc = 0;
            var chunk = new byte[17];
            for (int i = 0; i < count; i += 16)
            {
                int n = Math.Min(16, count - i);
                Array.Clear(chunk, 0, 17);
                Buffer.BlockCopy(data, offset + i, chunk, 0, n);
                chunk[n] = 1;
                acc = ((acc + FromLittle(chunk)) * r) % P1305;
            }
            var sBytes = new byte[16];
            Buffer.BlockCopy(key, 16, sBytes, 0, 16);
            acc = (acc + FromLittle(sBytes)) % BigInteger.Pow(2, 128);
            return ToLittle(acc, 16);
        }

        // -- boxes ------------------------------------------------------------------------------
        /// <summary>crypto_box_beforenm: the key two parties share.</summary>
        public static byte[] BoxKey(byte[] theirPublic, byte[] mySecret)
        {
            return HSalsa20(X25519(mySecret, theirPublic), new byte[16]);
        }

        /// <summary>crypto_secretbox_easy: 16-byte tag then the ciphertext.</summary>
        public static byte[] SecretBox(byte[] message, byte[] nonce24, byte[] key)
        {
            var buffer = new byte[32 + message.Length];
            Buffer.BlockCopy(message, 0, buffer, 32, message.Length);
            XSalsa20Xor(key, nonce24, buffer, 0, buffer.Length);   // the first 32 bytes of stream are Poly1305's key
            var polyKey = new byte[32];
            Buffer.BlockCopy(buffer, 0, polyKey, 0, 32);
            var tag = Poly1305(polyKey, buffer, 32, message.Length);
            var box = new byte[16 + message.Length];
            Buffer.BlockCopy(tag, 0, box, 0, 16);
            Buffer.BlockCopy(buffer, 32, box, 16, message.Length);
            return box;
        }

        /// <summary>crypto_secretbox_open_easy; null when the box was not made with this key and nonce.</summary>
        public static byte[] SecretBoxOpen(byte[] box, byte[] nonce24, byte[] key)
        {
            if (box.Length < 16) return null;
            int n = box.Length - 16;
            var buffer = new byte[32 + n];
            Buffer.BlockCopy(box, 16, buffer, 32, n);
            var stream = new byte[32];
            XSalsa20Xor(key, nonce24, stream, 0, 32);
            var tag = Poly1305(stream, buffer, 32, n);
            int diff = 0;
            for (int i = 0; i < 16; i++) diff |= tag[i] ^ box[i];
            if (diff != 0) return null;
            XSalsa20Xor(key, nonce24, buffer, 0, buffer.Length);
            var message = new byte[n];
            Buffer.BlockCopy(buffer, 32, message, 0, n);
            return message;
        }

        public static byte[] Box(byte[] message, byte[] nonce24, byte[] theirPublic, byte[] mySecret)
        {
            return SecretBox(message, nonce24, BoxKey(theirPublic, mySecret));
        }

        public static byte[] BoxOpen(byte[] box, byte[] nonce24, byte[] theirPublic, byte[] mySecret)
        {
            return SecretBoxOpen(box, nonce24, BoxKey(theirPublic, mySecret));
        }
    }
}
