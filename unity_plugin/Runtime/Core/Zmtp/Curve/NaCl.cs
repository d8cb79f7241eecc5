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
            var s = State(subkey, input, 0);
            var x = new uint[16];
            for (long counter = 0, done = 0; done < count; counter++, done += 64)
            {
                // Only the block counter (words 8 and 9) changes from block to block.
                s[8] = (uint)counter; s[9] = (uint)(counter >> 32);
                Array.Copy(s, x, 16);
                Rounds(x);
                for (int i = 0; i < 16; i++) Store(block, 4 * i, x[i] + s[i]);
                int n = (int)Math.Min(64, count - done);
                for (int i = 0; i < n; i++) data[offset + done + i] ^= block[i];
            }
        }

        // -- Poly1305 ---------------------------------------------------------------------------
        // On five 26-bit limbs in 64-bit products (the layout of poly1305-donna's 32-bit code):
        // no BigInteger, so opening a message allocates nothing here.
        const uint Mask26 = 0x3ffffff;

        /// <summary>The 16-byte Poly1305 tag of data[offset..offset+count) under a 32-byte one-time key.</summary>
        public static byte[] Poly1305(byte[] key, byte[] data, int offset, int count)
        {
            uint r0 = Load(key, 0) & 0x3ffffff, r1 = (Load(key, 3) >> 2) & 0x3ffff03, r2 = (Load(key, 6) >> 4) & 0x3ffc0ff,
                 r3 = (Load(key, 9) >> 6) & 0x3f03fff, r4 = (Load(key, 12) >> 8) & 0x00fffff;
            uint s1 = r1 * 5, s2 = r2 * 5, s3 = r3 * 5, s4 = r4 * 5;
            uint h0 = 0, h1 = 0, h2 = 0, h3 = 0, h4 = 0;
            byte[] last = null;
            for (int i = 0; i < count; i += 16)
            {
                byte[] m = data;
                int at = offset + i;
                uint hibit = 1u << 24;
                if (count - i < 16)
                {
                    last = new byte[16];          // the last, short block: its bytes, a 1, zeros
                    Buffer.BlockCopy(data, at, last, 0, count - i);
                    last[count - i] = 1;
                    m = last; at = 0; hibit = 0;
                }
                h0 += Load(m, at) & Mask26;
                h1 += (Load(m, at + 3) >> 2) & Mask26;
                h2 += (Load(m, at + 6) >> 4) & Mask26;
                h3 += (Load(m, at + 9) >> 6) & Mask26;
                h4 += (Load(m, at + 12) >> 8) | hibit;
                ulong d0 = (ulong)h0 * r0 + (ulong)h1 * s4 + (ulong)h2 * s3 + (ulong)h3 * s2 + (ulong)h4 * s1;
                ulong d1 = (ulong)h0 * r1 + (ulong)h1 * r0 + (ulong)h2 * s4 + (ulong)h3 * s3 + (ulong)h4 * s2;
                ulong d2 = (ulong)h0 * r2 + (ulong)h1 * r1 + (ulong)h2 * r0 + (ulong)h3 * s4 + (ulong)h4 * s3;
                ulong d3 = (ulong)h0 * r3 + (ulong)h1 * r2 + (ulong)h2 * r1 + (ulong)h3 * r0 + (ulong)h4 * s4;
                ulong d4 = (ulong)h0 * r4 + (ulong)h1 * r3 + (ulong)h2 * r2 + (ulong)h3 * r1 + (ulong)h4 * r0;
                ulong c = d0 >> 26; h0 = (uint)d0 & Mask26;
                d1 += c; c = d1 >> 26; h1 = (uint)d1 & Mask26;
                d2 += c; c = d2 >> 26; h2 = (uint)d2 & Mask26;
                d3 += c; c = d3 >> 26; h3 = (uint)d3 & Mask26;
                d4 += c; c = d4 >> 26; h4 = (uint)d4 & Mask26;
                h0 += (uint)c * 5; h1 += h0 >> 26; h0 &= Mask26;
            }
            // Carry fully, then take h - p if it is not negative (in constant time).
            uint k = h1 >> 26; h1 &= Mask26; h2 += k; k = h2 >> 26; h2 &= Mask26; h3 += k;
            k = h3 >> 26; h3 &= Mask26; h4 += k; k = h4 >> 26; h4 &= Mask26; h0 += k * 5;
            k = h0 >> 26; h0 &= Mask26; h1 += k;
            uint g0 = h0 + 5; k = g0 >> 26; g0 &= Mask26;
            uint g1 = h1 + k; k = g1 >> 26; g1 &= Mask26;
            uint g2 = h2 + k; k = g2 >> 26; g2 &= Mask26;
            uint g3 = h3 + k; k = g3 >> 26; g3 &= Mask26;
            uint g4 = h4 + k - (1u << 26);
            uint keepG = (g4 >> 31) - 1, keepH = ~keepG;
            h0 = (h0 & keepH) | (g0 & keepG); h1 = (h1 & keepH) | (g1 & keepG); h2 = (h2 & keepH) | (g2 & keepG);
            h3 = (h3 & keepH) | (g3 & keepG); h4 = (h4 & keepH) | (g4 & keepG);
            // h mod 2^128, plus s.
            ulong f = (ulong)(h0 | (h1 << 26)) + Load(key, 16);
            var tag = new byte[16];
            Store(tag, 0, (uint)f);
            f = (ulong)((h1 >> 6) | (h2 << 20)) + Load(key, 20) + (f >> 32);
            Store(tag, 4, (uint)f);
            f = (ulong)((h2 >> 12) | (h3 << 14)) + Load(key, 24) + (f >> 32);
            Store(tag, 8, (uint)f);
            f = (ulong)((h3 >> 18) | (h4 << 8)) + Load(key, 28) + (f >> 32);
            Store(tag, 12, (uint)f);
            return tag;
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

        /// <summary>Opens a box (tag then ciphertext) at src[offset..offset+length) where it lies:
        /// checks the tag, then writes the first head.Length bytes of the message into `head` and
        /// the rest into dst from dstOffset. False, with nothing written, when the box was not made
        /// with this key and nonce. A MESSAGE is opened straight into its frame's buffer this way.</summary>
        public static bool SecretBoxOpenInto(byte[] src, int offset, int length, byte[] nonce24, byte[] key,
                                             byte[] head, byte[] dst, int dstOffset)
        {
            if (length < 16) return false;
            int n = length - 16;
            var input = new byte[16];
            Buffer.BlockCopy(nonce24, 16, input, 0, 8);
            var s = State(HSalsa20(key, nonce24, 0), input, 0);
            var x = new uint[16];
            var block = new byte[64];
            KeyBlock(s, x, block, 0);                 // its first 32 bytes are Poly1305's key
            var tag = Poly1305(block, src, offset + 16, n);
            int diff = 0;
            for (int i = 0; i < 16; i++) diff |= tag[i] ^ src[offset + i];
            if (diff != 0) return false;
            int headLength = head != null ? head.Length : 0;
            long current = 0;
            for (int i = 0; i < n; i++)
            {
                int k = 32 + i;                       // message byte i is keystream byte 32 + i
                if (k >> 6 != current) { current = k >> 6; KeyBlock(s, x, block, current); }
                byte plain = (byte)(src[offset + 16 + i] ^ block[k & 63]);
                if (i < headLength) head[i] = plain; else dst[dstOffset + i - headLength] = plain;
            }
            return true;
        }

        static void KeyBlock(uint[] s, uint[] x, byte[] block, long counter)
        {
            s[8] = (uint)counter; s[9] = (uint)(counter >> 32);
            Array.Copy(s, x, 16);
            Rounds(x);
            for (int i = 0; i < 16; i++) Store(block, 4 * i, x[i] + s[i]);
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
