// The jitter buffer on real-game timing: DSP buffers, output latency, recorded lines, microphone
// lines that never end, pauses. Each test names the finding it covers (issue 13's list).
using System;
using System.Collections.Generic;
using Avbridge.Core.Audio;
using Avbridge.Core.Streaming;
using NUnit.Framework;

namespace Avbridge.Tests
{
    [TestFixture]
    public class PlaybackTests
    {
        double _now;

        [SetUp]
        public void ResetClock() { _now = 0; }

        AvatarStream NewStream() { return new AvatarStream { Clock = () => _now }; }

        static byte[] Pcm(int samples, short value)
        {
            var bytes = new byte[samples * 2];
            for (int i = 0; i < samples; i++) { bytes[2 * i] = (byte)value; bytes[2 * i + 1] = (byte)(value >> 8); }
            return bytes;
        }

        /// <summary>Frames whose jawOpen (channel 17) is the frame index / 1000.</summary>
        static byte[] Frames(int first, int count)
        {
            var floats = new float[count * 63];
            for (int n = 0; n < count; n++) { floats[n * 63 + 17] = (first + n) / 1000f; floats[n * 63 + 55] = 1f; }
            var bytes = new byte[floats.Length * 4];
            Buffer.BlockCopy(floats, 0, bytes, 0, bytes.Length);
            return bytes;
        }

        static AvatarStream Line(AvatarStream s, string id, double seconds)
        {
            int samples = (int)(22050 * seconds), frames = (int)(60 * seconds);
            s.Begin(id, 22050, 60, true);
            s.AddAudio(id, 0, Pcm(samples, 8000));
            s.AddFrames(id, 0, frames, Frames(0, frames));
            s.End(id, "done", frames, samples);
            return s;
        }

        [Test]
        public void Finding10_TheMouthMovesBetweenAudioCallbacksAt90Hz()
        {
            var s = Line(NewStream(), "u1", 2);
            var buffer = new float[1024];   // one DSP buffer: 21 ms at 48 kHz
            var frame = new float[63];
            var shown = new List<float>();
            double nextRead = 0;
            for (int render = 0; render < 90; render++)   // one second at 90 Hz
            {
                _now = render / 90.0;
                while (nextRead <= _now) { s.ReadAudio(buffer, 48000, 1); nextRead += 1024 / 48000.0; }
                s.SampleFrame(frame, 1 / 90.0);
                shown.Add(frame[17]);
            }
            int repeats = 0;
            for (int i = 1; i < shown.Count; i++) if (shown[i] == shown[i - 1]) repeats++;
            Assert.AreEqual(0, repeats, "no rendered frame repeats the one before it");
        }

        [Test]
        public void Finding10_TheFaceWaitsForTheOutputLatency()
        {
            var s = Line(NewStream(), "u1", 2);
            s.OutputLatencySeconds = 0.1;
            var buffer = new float[480];
            for (int i = 0; i < 50; i++) s.ReadAudio(buffer, 48000, 1);   // 0.5 s read
            _now = 0.5;
            var frame = new float[63];
            s.SampleFrame(frame, 0.01);
            // Heard: 0.5 s read, minus the 0.1 s still in the output buffers = 0.4 s = frame 24.
            Assert.AreEqual(0.024f, frame[17], 0.0015f);
        }

        [Test]
        public void Finding10_AnUnderrunFadesOutAndThePrebufferGrows()
        {
            var s = NewStream();
            s.Begin("u1", 22050, 60, true);
            s.AddAudio("u1", 0, Pcm(22050 / 2, 16384));   // half a second, then the network stalls
            double before = s.PrebufferSeconds;
            var buffer = new float[48000];
            s.ReadAudio(buffer, 48000, 1);
            int edge = 24000;   // where the audio ran out
            Assert.Greater(buffer[edge + 10], 0.05f, "not a step to zero");
            Assert.AreEqual(0f, buffer[edge + 480], 1e-6f, "silent after the 5 ms fade");
            Assert.AreEqual(1, s.Underruns);
            Assert.Greater(s.PrebufferSeconds, before);
            // Resuming waits for the (larger) prebuffer, then fades in.
            s.AddAudio("u1", 22050 / 2, Pcm(22050, 16384));
            s.ReadAudio(buffer, 48000, 1);
            Assert.Less(Math.Abs(buffer[0]), 0.1f, "fades in");
            Assert.AreEqual(0.5f, buffer[1000], 0.01f);
        }

        [Test]
        public void Finding5_ARecordedLineFinishesAndTheNextServerLineShowsItsOwnFace()
        {
            var s = NewStream();
            // The game plays "rec" itself: AudioSource.time goes up to just short of the end, then stops.
            s.Begin("rec", 0, 60, false);
            s.AddFrames("rec", 0, 60, Frames(500, 60));
            s.End("rec", "done", 60, 0);
            var frame = new float[63];
            for (int i = 0; i < 59; i++) { s.SetExternalPlayhead("rec", i / 60.0); s.SampleFrame(frame, 1 / 60.0); }
            Assert.IsTrue(s.IsSpeaking);
            // Whether the engine tells us (FinishExternal) or not, the next server line takes over.
            Line(s, "say", 1);
            for (int i = 0; i < 10; i++) s.ReadAudio(new float[480], 48000, 1);
            _now = 0.1;
            s.SampleFrame(frame, 0.01);
            Assert.Less(frame[17], 0.1f, "the server line's face (jaw ~0.006), not the recorded line's (0.5+)");
            var events = new List<StreamEvent>();
            s.PollEvents(events);
            Assert.IsTrue(events.Exists(e => e.Utterance == "rec" && e.Name == "finished"));
        }

        [Test]
        public void Finding5_MutingTheMicrophoneLetsTheJawGo()
        {
            var s = NewStream();
            s.Begin("mic", 0, 60, false);
            var frame = new float[63];
            for (int i = 0; i < 60; i++)
            {
                s.AddFrames("mic", i, 1, Frames(600, 1));   // jaw 0.6
                s.SetExternalPlayhead("mic", i / 60.0);
                s.SampleFrame(frame, 1 / 60.0);
            }
            Assert.AreEqual(0.6f, frame[17], 1e-4f);
            s.FinishExternal("mic");   // AvbridgeMicrophoneSender.OnDisable
            for (int i = 0; i < 60; i++) s.SampleFrame(frame, 1 / 60.0);
            Assert.Less(frame[17], 0.01f);
            Assert.IsFalse(s.IsSpeaking);
        }

        [Test]
        public void Finding5_ALateStreamIsHeldOnlyBriefly()
        {
            var s = NewStream();
            s.Begin("mic", 0, 60, false);
            s.AddFrames("mic", 0, 10, Frames(600, 10));
            var frame = new float[63];
            s.SetExternalPlayhead("mic", 0.1);
            s.SampleFrame(frame, 0.01);
            for (int i = 1; i <= 60; i++) { _now = i / 60.0; s.SetExternalPlayhead("mic", 0.1 + i / 60.0); s.SampleFrame(frame, 1 / 60.0); }
            Assert.Less(frame[17], 0.05f, "a second without frames: the face has let go");
        }

        [Test]
        public void Finding13_AnHourOfMicrophoneInBoundedMemory()
        {
            var s = NewStream();
            s.Begin("mic", 0, 60, false);
            var frame = new float[63];
            var batch = Frames(0, 6);
            for (long n = 0; n < 60L * 3600; n += 6)   // an hour at 60 fps, fed as fast as it goes
            {
                s.AddFrames("mic", n, 6, batch);
                s.SetExternalPlayhead("mic", n / 60.0);
                s.SampleFrame(frame, 0.1);
            }
            Assert.LessOrEqual(s.HeldFrames, 70, "a second of frames behind the playhead, not an hour (216,000)");
        }

        [Test]
        public void Finding11_AudioIsStoredWithoutCopyingWhatIsThere()
        {
            var pool = new BlockPool();
            var audio = new SampleBlocks(pool);
            var piece = Pcm(2205, 1000);
            for (int i = 0; i < 36000; i++)   // an hour of 22.05 kHz audio in 100 ms pieces
            {
                audio.AppendPcm16(piece, 0, piece.Length);
                audio.ReleaseBefore(audio.Written - 22050);   // the playhead follows a second behind
            }
            Assert.AreEqual(audio.Written, audio.Copied, "each sample copied once: no array growth under the lock");
            Assert.LessOrEqual(audio.BlocksHeld, 8);
        }

        [Test]
        public void Finding9_IdleFramesDoNotPileUpWhileNothingSamplesThem()
        {
            var s = NewStream();
            for (int k = 0; k < 20; k++)   // a long pause: idle streams keep coming, nobody samples
            {
                s.BeginIdle("idle" + k, 60, k * 60.0);
                for (int n = 0; n < 3600; n += 6) s.AddFrames("idle" + k, n, 6, Frames(0, 6));
                s.End("idle" + k, "done", 3600, 0);
            }
            Assert.LessOrEqual(s.HeldFrames, 4 * 600 + 10, "at most a few idle streams of a few seconds each");
        }

        [Test]
        public void Finding4_ASpatializerGetsTheSpeechAfterTheFilter()
        {
            Assert.IsTrue(AudioRouting.NeedsSpatializePostEffects("Meta XR Audio", true));
            Assert.IsTrue(AudioRouting.NeedsSpatializePostEffects("Steam Audio Spatializer", true));
            Assert.IsFalse(AudioRouting.NeedsSpatializePostEffects("", true), "Unity's own panner attenuates after the filter");
            Assert.IsFalse(AudioRouting.NeedsSpatializePostEffects("Resonance Audio", false));
            Assert.AreEqual(3 * 1024 / 48000.0 + 0.15, AudioRouting.OutputLatency(1024, 4, 48000, 0.15), 1e-9);
        }

        [Test]
        public void Finding12_TheMicrophoneReaderReusesItsBuffersAcrossTheClipsWrap()
        {
            var reader = new MicrophoneReader(1000);
            reader.Restart(900);
            var clip = new float[1000];
            for (int i = 0; i < 1000; i++) clip[i] = i / 1000f;
            Func<float[], int, bool> getData = (buffer, offset) =>
            {
                for (int i = 0; i < buffer.Length; i++) buffer[i] = clip[(offset + i) % 1000];
                return true;
            };
            int count;
            Assert.IsNull(reader.Read(910, 20, getData, out count), "less than the minimum");
            var pcm = reader.Read(50, 20, getData, out count);   // wrapped: 900..999, 0..49
            Assert.AreEqual(150, count);
            Assert.AreEqual((short)(0.9f * 32767f), pcm[0]);
            Assert.AreEqual((short)(0.049f * 32767f), pcm[149]);
            Assert.AreEqual(150, reader.Sent);
        }
    }
}
