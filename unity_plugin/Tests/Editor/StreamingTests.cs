using System;
using System.Collections.Generic;
using Avbridge.Core.Streaming;
using Avbridge.Core.Zmtp;
using NUnit.Framework;

namespace Avbridge.Tests
{
    [TestFixture]
    public class StreamingTests
    {
        static byte[] Pcm(int samples, short value)
        {
            var bytes = new byte[samples * 2];
            for (int i = 0; i < samples; i++) { bytes[2 * i] = (byte)value; bytes[2 * i + 1] = (byte)(value >> 8); }
            return bytes;
        }

        static byte[] Frames(int count, Func<int, int, float> value)
        {
            var floats = new float[count * 63];
            for (int n = 0; n < count; n++)
                for (int k = 0; k < 63; k++) floats[n * 63 + k] = value(n, k);
            var bytes = new byte[floats.Length * 4];
            Buffer.BlockCopy(floats, 0, bytes, 0, bytes.Length);
            return bytes;
        }

        static float JawAt(int frame) { return frame / 100f; }

        // The stream's wall clock, moved by hand: a read buffer is heard over its own duration
        // (HeardPosition), so each test says how much time has passed.
        double _now;

        [SetUp]
        public void ResetClock() { _now = 0; }

        AvatarStream OneSecondUtterance(bool end = true)
        {
            var s = new AvatarStream { Clock = () => _now };
            s.Begin("u1", 22050, 60, true);
            s.AddAudio("u1", 0, Pcm(22050, 16384));
            s.AddFrames("u1", 0, 60, Frames(60, (n, k) => k == 17 ? JawAt(n) : k == 55 ? 1f : 0f));
            if (end) s.End("u1", "done", 60, 22050);
            return s;
        }

        [Test]
        public void ResamplesToTheOutputRateAndFinishes()
        {
            var s = OneSecondUtterance();
            var buffer = new float[480 * 2];
            int reads = 0;
            var events = new List<StreamEvent>();
            while (reads < 200)
            {
                s.ReadAudio(buffer, 48000, 2);
                reads++;
                s.PollEvents(events);
                if (events.Exists(e => e.Name == "finished")) break;
            }
            // One second of 22.05 kHz audio is one second at 48 kHz: 100 reads of 10 ms.
            Assert.That(reads, Is.InRange(99, 101));
            Assert.AreEqual(0.5f, buffer[0], 0.01f, "the last read holds silence after the end");
            Assert.AreEqual("started", events[0].Name);
        }

        [Test]
        public void TheFrameShownIsTheOneAtTheAudioPlayhead()
        {
            var s = OneSecondUtterance();
            var buffer = new float[24000];   // half a second, mono, at 48 kHz
            s.ReadAudio(buffer, 48000, 1);
            _now += 0.5;                     // ...heard to its end half a second later
            var frame = new float[63];
            Assert.IsTrue(s.SampleFrame(frame, 0.016));
            Assert.AreEqual(JawAt(30), frame[17], 0.01f, "0.5 s at 60 fps is frame 30");
            Assert.AreEqual(1f, frame[55], 1e-5f);
        }

        [Test]
        public void AnUnderrunHoldsThePlayheadInsteadOfSkipping()
        {
            var s = OneSecondUtterance(end: false);
            var buffer = new float[48000 * 2];   // two seconds, but only one has arrived
            s.ReadAudio(buffer, 48000, 1);
            Assert.AreEqual(0f, buffer[buffer.Length - 1]);
            Assert.IsTrue(s.IsSpeaking);
            s.AddAudio("u1", 22050, Pcm(2205, 8192));
            s.ReadAudio(new float[100], 48000, 1);
            var frame = new float[63];
            s.SampleFrame(frame, 0.016);
            Assert.AreEqual(JawAt(59), frame[17], 0.02f, "held at the last frame, not ahead of the audio");
        }

        [Test]
        public void AnInterruptDiscardsWhatWasBufferedPastTheCut()
        {
            var s = OneSecondUtterance(end: false);
            s.ReadAudio(new float[4800], 48000, 1);          // 0.1 s played
            s.End("u1", "interrupted", 12, 4410);            // cut at 0.2 s
            var buffer = new float[9600];                    // 0.2 s more
            s.ReadAudio(buffer, 48000, 1);
            Assert.AreEqual(0f, buffer[buffer.Length - 1], "silence after the cut");
            var events = new List<StreamEvent>();
            s.PollEvents(events);
            Assert.IsTrue(events.Exists(e => e.Name == "interrupted"));
            Assert.IsFalse(s.IsSpeaking);
        }

        [Test]
        public void AfterSpeechTheFaceEasesToNeutral()
        {
            var s = OneSecondUtterance(end: false);
            s.ReadAudio(new float[24000], 48000, 1);
            _now += 0.5;
            var frame = new float[63];
            s.SampleFrame(frame, 0.016);
            Assert.Greater(frame[17], 0.2f);
            s.InterruptNow();
            for (int i = 0; i < 30; i++) s.SampleFrame(frame, 0.016);   // half a second
            Assert.Less(frame[17], 0.01f);
            Assert.AreEqual(1f, frame[55], 1e-4f);
        }

        [Test]
        public void WordEventsComeWhenThePlayheadPassesThem()
        {
            var s = OneSecondUtterance();
            s.AddEvent("u1", "word", "hello", 0.3);
            s.AddEvent("u1", "word", "there", 0.7);
            var events = new List<StreamEvent>();
            s.ReadAudio(new float[24000], 48000, 1);
            _now += 0.5;
            s.SampleFrame(new float[63], 0.016);
            s.PollEvents(events);
            Assert.AreEqual(new[] { "hello" }, events.FindAll(e => e.Name == "word").ConvertAll(e => e.Text).ToArray());
        }

        [Test]
        public void UtterancesPlayBackToBack()
        {
            var s = OneSecondUtterance();
            s.Begin("u2", 22050, 60, true);
            s.AddAudio("u2", 0, Pcm(22050, -16384));
            s.End("u2", "done", 60, 22050);
            var buffer = new float[48000 * 2 + 4800];
            s.ReadAudio(buffer, 48000, 1);
            Assert.AreEqual(0.5f, buffer[1000], 0.01f);
            Assert.AreEqual(-0.5f, buffer[48000 + 1000], 0.01f);
        }

        [Test]
        public void BetweenLinesTheIdleStreamIsShownAtTheSessionTime()
        {
            var s = new AvatarStream { EaseSeconds = 1e-6 };
            s.BeginIdle("idle1", 60, 10.0);
            s.AddFrames("idle1", 0, 120, Frames(120, (n, k) => k == 17 ? JawAt(n) : k == 55 ? 1f : 0f));
            var frame = new float[63];
            Assert.IsFalse(s.SampleFrame(frame, 0.016, 10.5), "idle is not speech");
            Assert.AreEqual(JawAt(30), frame[17], 0.01f, "0.5 s into the idle stream is frame 30");
            s.End("idle1", "done", 45, 0);                 // a line took over at frame 45
            s.SampleFrame(frame, 0.016, 11.0);             // 1.0 s: past the cut, nothing to show
            s.SampleFrame(frame, 10.0, 11.0);
            Assert.AreEqual(0f, frame[17], 0.01f, "after the cut the face relaxes rather than showing cut frames");
        }

        [Test]
        public void ClockSyncTrustsTheFastestRoundTrip()
        {
            var clock = new ClockSync();
            clock.Add(10.0, 10.5, 0.0);      // slow: 0.5 s round trip
            clock.Add(20.0, 20.002, 9.7);    // fast
            Assert.AreEqual(20.001 - 9.7, clock.Offset, 1e-9);
            Assert.AreEqual(0.001, clock.Uncertainty, 1e-9);
            Assert.AreEqual(9.7, clock.ToSession(20.001), 1e-9);
        }

        [TestCase("127.0.0.1:5570")]
        [TestCase("http://127.0.0.1:5570")]
        [TestCase("tcp://127.0.0.1")]
        [TestCase("tcp://127.0.0.1:99999")]
        [TestCase("tcp://*:5570")]
        public void ABadEndpointIsRefusedWithTheFormToUse(string endpoint)
        {
            var caught = Assert.Throws<ArgumentException>(() => new ZmtpSocket(ZmtpSocketType.Dealer, endpoint));
            StringAssert.Contains("tcp://127.0.0.1:5570", caught.Message);
        }
    }
}
