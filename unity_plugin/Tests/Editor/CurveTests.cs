// The NaCl primitives under CurveZMQ, against published vectors (RFC 7748 for X25519, RFC 8439 for
// Poly1305) and against libsodium's crypto_box output for fixed keys, nonce and message.
using System;
using System.Text;
using Avbridge.Core.Zmtp.Curve;
using NUnit.Framework;

namespace Avbridge.Tests
{
    [TestFixture]
    public class CurveTests
    {
        static byte[] Hex(string hex)
        {
            var b = new byte[hex.Length / 2];
            for (int i = 0; i < b.Length; i++) b[i] = Convert.ToByte(hex.Substring(2 * i, 2), 16);
            return b;
        }

        static string ToHex(byte[] b) { return BitConverter.ToString(b).Replace("-", "").ToLowerInvariant(); }

        const string AliceSecret = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
        const string AlicePublic = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
        const string BobSecret = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
        const string BobPublic = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";

        [Test]
        public void X25519MatchesRfc7748()
        {
            Assert.AreEqual("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
                ToHex(NaCl.X25519(Hex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
                                  Hex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"))));
            Assert.AreEqual(AlicePublic, ToHex(NaCl.PublicKey(Hex(AliceSecret))));
            Assert.AreEqual(BobPublic, ToHex(NaCl.PublicKey(Hex(BobSecret))));
            const string shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
            Assert.AreEqual(shared, ToHex(NaCl.X25519(Hex(AliceSecret), Hex(BobPublic))));
            Assert.AreEqual(shared, ToHex(NaCl.X25519(Hex(BobSecret), Hex(AlicePublic))));
        }

        [Test]
        public void Poly1305MatchesRfc8439()
        {
            var message = Encoding.ASCII.GetBytes("Cryptographic Forum Research Group");
            Assert.AreEqual("a8061dc1305136c6c22b8baf0c0127a9",
                ToHex(NaCl.Poly1305(Hex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b"), message, 0, message.Length)));
        }

        // libsodium (PyNaCl 1.6.2): crypto_box(message, nonce 00..17, bob's public, alice's secret).
        const string Message = "61766272696467653a2061206c696e65206f66207370656563682c20626f7865642e000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f60616263";
        const string Boxed = "d4e76b9a462578ff2f1ac9c03f099887643832d7721232187aa7f95ecfe3d6bbc1adbfc00697c9e819bb0b1a244596796e2cb77a8b927635ee8b6ecd11e05f8cfe1e4f48337528f3b472c666d2673856a55fb37f32bdcd23b8261fe63ebb7dc13a6dd1cccc0263a281763e67456ee4be7f31b6f2d16a663c0f43970198ce7a564e4d5c93ed46a288d85a9b60f787d45a0bd62e9e1eec";

        static byte[] Nonce()
        {
            var n = new byte[24];
            for (int i = 0; i < 24; i++) n[i] = (byte)i;
            return n;
        }

        [Test]
        public void BoxMatchesLibsodiumAndOpensBothWays()
        {
            Assert.AreEqual("1b27556473e985d462cd51197a9a46c76009549eac6474f206c4ee0844f68389",
                            ToHex(NaCl.BoxKey(Hex(BobPublic), Hex(AliceSecret))));
            var box = NaCl.Box(Hex(Message), Nonce(), Hex(BobPublic), Hex(AliceSecret));
            Assert.AreEqual(Boxed, ToHex(box));
            Assert.AreEqual(Message, ToHex(NaCl.BoxOpen(box, Nonce(), Hex(AlicePublic), Hex(BobSecret))));
        }

        [Test]
        public void ATamperedBoxDoesNotOpen()
        {
            var box = Hex(Boxed);
            box[40] ^= 1;
            Assert.IsNull(NaCl.BoxOpen(box, Nonce(), Hex(AlicePublic), Hex(BobSecret)));
            var wrongNonce = Nonce();
            wrongNonce[0] = 99;
            Assert.IsNull(NaCl.BoxOpen(Hex(Boxed), wrongNonce, Hex(AlicePublic), Hex(BobSecret)));
            Assert.IsNull(NaCl.BoxOpen(new byte[10], Nonce(), Hex(AlicePublic), Hex(BobSecret)));
        }
    }
}

namespace Avbridge.Tests
{
    using System.Collections.Generic;
    using System.Diagnostics;
    using System.IO;
    using System.Threading;
    using Avbridge.Core;
    using Avbridge.Core.Zmtp;

    /// <summary>The C# client speaking CurveZMQ to a real pyzmq CURVE server (`avbridge serve
    /// --curve-secret --curve-clients`), with keys made by `avbridge keys`.</summary>
    [TestFixture]
    public class CurveServerTests
    {
        static string _keys;

        static string Keys()
        {
            if (_keys != null) return _keys;
            var dir = Path.Combine(Path.GetTempPath(), "avbridge-curve-" + Guid.NewGuid().ToString("N").Substring(0, 8));
            LiveServer.RunAvbridge("keys server --out " + dir);
            LiveServer.RunAvbridge("keys unity --out " + dir);
            LiveServer.RunAvbridge("keys stranger --out " + dir);
            Directory.CreateDirectory(Path.Combine(dir, "allowed"));
            File.Copy(Path.Combine(dir, "unity.key"), Path.Combine(dir, "allowed", "unity.key"));
            return _keys = dir;
        }

        static LiveServer Server()
        {
            var dir = Keys();
            return new LiveServer(0, "--curve-secret " + Path.Combine(dir, "server.key_secret") + " --curve-clients " + Path.Combine(dir, "allowed"));
        }

        static AvatarLinkOptions Options(string client)
        {
            var dir = Keys();
            var options = new AvatarLinkOptions { ConnectTimeoutMs = 4000 };
            if (client != null)
            {
                string error;
                Assert.IsTrue(CurveKeyPair.TryConfigure(Path.Combine(dir, "server.key"), Path.Combine(dir, client + ".key_secret"),
                                                        options.Zmtp, out error), error);
            }
            return options;
        }

        [Test]
        public void KeySettingsAreCheckedBeforeConnecting()
        {
            var dir = Keys();
            string serverKey = Path.Combine(dir, "server.key"), error;
            var zmtp = new Avbridge.Core.Zmtp.ZmtpOptions();
            Assert.IsTrue(CurveKeyPair.TryConfigure("", " ", zmtp, out error));
            Assert.IsNull(zmtp.CurveServerKey, "nothing given: plaintext");
            Assert.IsFalse(CurveKeyPair.TryConfigure(serverKey, "", zmtp, out error));
            StringAssert.Contains("needs both", error);
            Assert.IsFalse(CurveKeyPair.TryConfigure(serverKey, Path.Combine(dir, "unity.key"), zmtp, out error));
            StringAssert.Contains("only a public key", error);
            Assert.IsFalse(CurveKeyPair.TryConfigure(serverKey, Path.Combine(dir, "nobody.key_secret"), zmtp, out error));
            StringAssert.Contains("no CURVE key file", error);
            Assert.IsFalse(CurveKeyPair.TryConfigure(new string('~', 40), Path.Combine(dir, "unity.key_secret"), zmtp, out error));
            Assert.IsNull(zmtp.CurveServerKey);
            string z85 = Z85.Encode(CurveKeyPair.Load(serverKey).Public);
            Assert.IsTrue(CurveKeyPair.TryConfigure(z85, Path.Combine(dir, "unity.key_secret"), zmtp, out error), error);
            CollectionAssert.AreEqual(CurveKeyPair.Load(serverKey).Public, zmtp.CurveServerKey);
            Assert.IsNotNull(zmtp.CurveClientKeys.Secret);
        }

        [Test]
        public void AnAllowedClientStreamsALineOverCurve()
        {
            using (var server = Server())
            using (var link = new AvatarLink(server.Endpoint, Options("unity")))
            {
                link.Connect();
                link.Say("Secret words.");
                var events = new List<LinkEvent>();
                var watch = Stopwatch.StartNew();
                LinkEvent ended = default(LinkEvent);
                while (watch.ElapsedMilliseconds < 15000 && ended.Kind != LinkEventKind.StreamEnded)
                {
                    events.Clear();
                    link.Poll(events);
                    foreach (var e in events) if (e.Kind == LinkEventKind.StreamEnded) ended = e;
                    Thread.Sleep(10);
                }
                Assert.AreEqual("done", ended.Text);
                Assert.Greater(link.Stream.BufferedSeconds, 0.3, "the line's audio arrived, decrypted");
            }
        }

        [TestCase("stranger", "refused")]
        [TestCase(null, "CURVE")]
        public void ARefusedClientGetsASentenceNotAHang(string client, string expected)
        {
            using (var server = Server())
            {
                var link = new AvatarLink(server.Endpoint, Options(client));
                var watch = Stopwatch.StartNew();
                var caught = Assert.Throws<TimeoutException>(() => link.Connect());
                link.Dispose();
                StringAssert.Contains(expected, caught.Message);
                Assert.Less(watch.ElapsedMilliseconds, 6000);
            }
        }

        [Test]
        public void KeyFilesRoundTripThroughZ85()
        {
            var pair = CurveKeyPair.Load(Path.Combine(Keys(), "server.key_secret"));
            Assert.AreEqual(32, pair.Public.Length);
            CollectionAssert.AreEqual(pair.Public, NaCl.PublicKey(pair.Secret), "the file's public key is its secret key's");
            CollectionAssert.AreEqual(pair.Public, Z85.Decode(Z85.Encode(pair.Public)));
        }
    }
}
