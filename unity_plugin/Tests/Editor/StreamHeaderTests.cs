// The garbage-free reading of audio, frames and events (finding 12) must agree with the codec,
// and must leave everything it does not fully check to the codec's exact errors.
using Avbridge.Core.Protocol;
using NUnit.Framework;

namespace Avbridge.Tests
{
    [TestFixture]
    public class StreamHeaderTests
    {
        static byte[] Header(Message m) { return Codec.Encode(m)[0]; }

        [Test]
        public void Finding12_AudioFramesAndEventsReadAsTheCodecReadsThem()
        {
            var h = new StreamHeader();
            var audio = new Message("audio") { Seq = 7 }.With("session", "s1").With("utterance", "u1").With("time", 1.25).With("offset", 44100L);
            audio.Bulk.Add(new byte[8]);
            Assert.IsTrue(h.TryRead(Header(audio), new byte[8]));
            Assert.IsTrue(h.IsAudio);
            Assert.AreEqual("u1", h.Utterance);
            Assert.AreEqual(1.25, h.Time);
            Assert.AreEqual(44100, h.Offset);
            string first = h.Utterance;
            var frames = new Message("frames") { Seq = 8 }.With("session", "s1").With("utterance", "u1").With("time", 1.5).With("first", 90L).With("count", 2L);
            frames.Bulk.Add(new byte[2 * 63 * 4]);
            Assert.IsTrue(h.TryRead(Header(frames), new byte[2 * 63 * 4]));
            Assert.IsFalse(h.IsAudio);
            Assert.AreEqual(90, h.First);
            Assert.AreSame(first, h.Utterance, "a known id makes no new string");
            Assert.IsFalse(h.TryRead(Header(frames), new byte[63 * 4]), "a bulk frame of the wrong size is the codec's bad_frames");
            var word = new Message("event") { Seq = 9 }.With("session", "s1").With("utterance", "u1").With("time", 1.75).With("name", "word")
                .With("text", "market").With("end", 2.0);
            Assert.IsTrue(h.TryReadEvent(Header(word)));
            Assert.AreEqual("word", h.Name);
            Assert.AreEqual("market", h.Text);
            var phoneme = new Message("event") { Seq = 10 }.With("session", "s1").With("utterance", "u1").With("time", 1.8).With("name", "phoneme")
                .With("phoneme", "ɑ").With("viseme", "aa");
            Assert.IsTrue(h.TryReadEvent(Header(phoneme)));
            Assert.AreEqual("ɑ", h.Text);
        }

        [Test]
        public void Finding12_AnythingUnusualGoesTheGeneralWay()
        {
            var h = new StreamHeader();
            var extra = new Message("audio") { Seq = 7 }.With("session", "s1").With("utterance", "u1").With("time", 1.0).With("offset", 0L).With("future", 1L);
            extra.Bulk.Add(new byte[2]);
            Assert.IsFalse(h.TryRead(Header(extra), new byte[2]), "an unknown field: the codec decides");
            var stream = new Message("end") { Seq = 3 }.With("session", "s1").With("utterance", "u1").With("time", 1.0).With("status", "done")
                .With("frames", 1L).With("samples", 1L);
            Assert.IsFalse(h.TryReadEvent(Header(stream)));
            Assert.IsFalse(h.TryRead(new byte[] { 0x81, 0xa1, 0x76, 0x02 }, new byte[2]), "version 2");
            Assert.IsFalse(h.TryRead(new byte[] { 0xc1 }, new byte[2]), "not msgpack");
        }
    }
}
