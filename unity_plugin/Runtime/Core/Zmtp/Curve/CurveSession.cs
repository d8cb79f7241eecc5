// The client half of CurveZMQ (RFC 26): the HELLO / WELCOME / INITIATE / READY handshake, and each
// frame after it boxed into a MESSAGE command with its own nonce. Sans-IO: ZmtpSocket moves the
// bytes; this only makes and reads command bodies, so it is tested without a socket too.
using System;
using System.Security.Cryptography;
using System.Text;

namespace Avbridge.Core.Zmtp.Curve
{
    public sealed class CurveSession
    {
        readonly byte[] _serverPublic, _clientPublic, _clientSecret;
        readonly byte[] _shortPublic, _shortSecret;     // this connection's own pair (C', c')
        byte[] _serverShort;                            // S'
        byte[] _key;                                    // precomputed box key C'/S' after WELCOME
        ulong _sendNonce = 1, _lastReceived;
        static readonly RandomNumberGenerator Random = RandomNumberGenerator.Create();

        public CurveSession(byte[] serverPublic, CurveKeyPair client)
        {
            if (serverPublic == null || serverPublic.Length != 32) throw new ArgumentException("the server's public key is 32 bytes (40 Z85 characters)");
            if (client == null || client.Secret == null) throw new ArgumentException("the client's key pair needs its secret key (the .key_secret file)");
            _serverPublic = serverPublic;
            _clientPublic = client.Public;
            _clientSecret = client.Secret;
            _shortSecret = RandomBytes(32);
            _shortPublic = NaCl.PublicKey(_shortSecret);
        }

        static byte[] RandomBytes(int n) { var b = new byte[n]; Random.GetBytes(b); return b; }

        static byte[] Nonce(string prefix, byte[] tail)
        {
            var n = new byte[24];
            Encoding.ASCII.GetBytes(prefix, 0, prefix.Length, n, 0);
            Buffer.BlockCopy(tail, 0, n, prefix.Length, tail.Length);
            return n;
        }

        static byte[] Counter(ulong v)
        {
            var b = new byte[8];
            for (int i = 0; i < 8; i++) b[i] = (byte)(v >> (56 - 8 * i));
            return b;
        }

        static byte[] Command(string name, params byte[][] parts)
        {
            int length = 1 + name.Length;
            foreach (var p in parts) length += p.Length;
            var body = new byte[length];
            body[0] = (byte)name.Length;
            Encoding.ASCII.GetBytes(name, 0, name.Length, body, 1);
            int pos = 1 + name.Length;
            foreach (var p in parts) { Buffer.BlockCopy(p, 0, body, pos, p.Length); pos += p.Length; }
            return body;
        }

        /// <summary>HELLO: version 1.0, padding, C', and a box of 64 zeros proving we hold c'.</summary>
        public byte[] Hello()
        {
            var counter = Counter(_sendNonce++);
            var box = NaCl.Box(new byte[64], Nonce("CurveZMQHELLO---", counter), _serverPublic, _shortSecret);
            return Command("HELLO", new byte[] { 1, 0 }, new byte[72], _shortPublic, counter, box);
        }

        /// <summary>Read WELCOME; then INITIATE, carrying our long-term key vouched for and the
        /// ZMTP metadata (Socket-Type, Identity).</summary>
        public byte[] Initiate(byte[] welcome, byte[] metadata)
        {
            if (welcome.Length != 168 || Name(welcome) != "WELCOME")
                throw new InvalidOperationException("expected WELCOME, got " + Name(welcome) + " (" + welcome.Length + " bytes)");
            var longNonce = new byte[16];
            Buffer.BlockCopy(welcome, 8, longNonce, 0, 16);
            var box = new byte[144];
            Buffer.BlockCopy(welcome, 24, box, 0, 144);
            var opened = NaCl.BoxOpen(box, Nonce("WELCOME-", longNonce), _serverPublic, _shortSecret);
            if (opened == null) throw new CurveException("the server's WELCOME does not open with its public key: is the server's key the right one?");
            _serverShort = new byte[32];
            var cookie = new byte[96];
            Buffer.BlockCopy(opened, 0, _serverShort, 0, 32);
            Buffer.BlockCopy(opened, 32, cookie, 0, 96);
            _key = NaCl.BoxKey(_serverShort, _shortSecret);
            var vouchNonce = RandomBytes(16);
            var vouchPlain = new byte[64];
            Buffer.BlockCopy(_shortPublic, 0, vouchPlain, 0, 32);
            Buffer.BlockCopy(_serverPublic, 0, vouchPlain, 32, 32);
            var vouch = NaCl.Box(vouchPlain, Nonce("VOUCH---", vouchNonce), _serverShort, _clientSecret);
            var plain = new byte[32 + 16 + vouch.Length + metadata.Length];
            Buffer.BlockCopy(_clientPublic, 0, plain, 0, 32);
            Buffer.BlockCopy(vouchNonce, 0, plain, 32, 16);
            Buffer.BlockCopy(vouch, 0, plain, 48, vouch.Length);
            Buffer.BlockCopy(metadata, 0, plain, 48 + vouch.Length, metadata.Length);
            var counter = Counter(_sendNonce++);
            var initiate = NaCl.SecretBox(plain, Nonce("CurveZMQINITIATE", counter), _key);
            return Command("INITIATE", cookie, counter, initiate);
        }

        /// <summary>Read READY: the server's metadata (its Socket-Type). ERROR carries the server's reason.</summary>
        public byte[] Ready(byte[] ready)
        {
            string name = Name(ready);
            if (name == "ERROR")
            {
                int length = ready.Length > 6 ? ready[6] : 0;
                string reason = Encoding.ASCII.GetString(ready, 7, Math.Min(length, ready.Length - 7));
                throw new CurveException("the server refused this client's key (" + reason + "): it is not among the server's allowed clients");
            }
            if (name != "READY" || ready.Length < 6 + 8 + 16) throw new InvalidOperationException("expected READY, got " + name);
            var counter = new byte[8];
            Buffer.BlockCopy(ready, 6, counter, 0, 8);
            var box = new byte[ready.Length - 14];
            Buffer.BlockCopy(ready, 14, box, 0, box.Length);
            var metadata = NaCl.SecretBoxOpen(box, Nonce("CurveZMQREADY---", counter), _key);
            if (metadata == null) throw new CurveException("the server's READY does not open");
            _lastReceived = ToCounter(counter);
            return metadata;
        }

        /// <summary>A MESSAGE command body for one frame (flags: 1 more, 2 command).</summary>
        public byte[] Encode(byte[] payload, byte flags)
        {
            var plain = new byte[1 + payload.Length];
            plain[0] = flags;
            Buffer.BlockCopy(payload, 0, plain, 1, payload.Length);
            var counter = Counter(_sendNonce++);
            return Command("MESSAGE", counter, NaCl.SecretBox(plain, Nonce("CurveZMQMESSAGEC", counter), _key));
        }

        /// <summary>A MESSAGE command from the server: its frame and flags; throws on a forged or
        /// replayed one. The frame is opened straight into its own array, rented from `pool` when
        /// one is given (the stream then allocates little more than with plaintext).</summary>
        public byte[] Decode(byte[] message, out byte flags, FramePool pool = null)
        {
            if (Name(message) != "MESSAGE" || message.Length < 8 + 8 + 17) throw new CurveException("expected a MESSAGE command from the CURVE server");
            var counter = new byte[8];
            Buffer.BlockCopy(message, 8, counter, 0, 8);
            ulong n = ToCounter(counter);
            if (n <= _lastReceived) throw new CurveException("a replayed MESSAGE (nonce did not increase)");
            int boxLength = message.Length - 16, size = boxLength - 16 - 1;
            var payload = pool != null ? pool.Rent(size) : new byte[size];
            if (!NaCl.SecretBoxOpenInto(message, 16, boxLength, Nonce("CurveZMQMESSAGES", counter), _key, _flags, payload, 0))
            {
                if (pool != null) pool.Return(payload);
                throw new CurveException("a MESSAGE that does not open (tampered, or not from this server)");
            }
            _lastReceived = n;
            flags = _flags[0];
            return payload;
        }

        readonly byte[] _flags = new byte[1];

        static ulong ToCounter(byte[] b) { ulong v = 0; for (int i = 0; i < 8; i++) v = (v << 8) | b[i]; return v; }

        static string Name(byte[] body)
        {
            if (body.Length < 1 || body.Length < 1 + body[0]) return "(malformed)";
            return Encoding.ASCII.GetString(body, 1, body[0]);
        }
    }

    public sealed class CurveException : Exception
    {
        public CurveException(string message) : base(message) { }
    }
}
