// The C# client against the real Python server on random loopback ports.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Text;
using System.Threading;
using Avbridge.Core;
using Avbridge.Core.Protocol;
using Avbridge.Core.Streaming;
using Avbridge.Core.Zmtp;
using NUnit.Framework;

namespace Avbridge.Tests
{
    [TestFixture]
    public class LiveServerTests
    {
        LiveServer _server;

        // One server for the fixture, started on first use and stopped when the test domain
        // unloads: [SetUp] is the set-up hook NUnit 2 (here) and NUnit 3 (Unity) both have.
        [SetUp]
        public void UseSharedServer() { _server = LiveServer.Shared(); }

        AvatarLink Connect(bool realtime = true, ZmtpOptions zmtp = null)
        {
            var link = new AvatarLink(_server.Endpoint, new AvatarLinkOptions
            {
                ClientName = "nunit", Realtime = realtime, Zmtp = zmtp ?? new ZmtpOptions(),
            });
            link.Connect();
            return link;
        }

        static LinkEvent WaitFor(AvatarLink link, Func<LinkEvent, bool> match, int timeoutMs, List<LinkEvent> seen = null)
        {
            var events = new List<LinkEvent>();
            var watch = Stopwatch.StartNew();
            while (watch.ElapsedMilliseconds < timeoutMs)
            {
                events.Clear();
                link.Poll(events);
                foreach (var e in events)
                {
                    if (seen != null) seen.Add(e);
                    if (match(e)) return e;
                }
                Thread.Sleep(5);
            }
            Assert.Fail("no matching event in " + timeoutMs + " ms");
            return default(LinkEvent);
        }

        /// <summary>Behind `serve --cluster`, the worker holding the session dies: the line ends
        /// in error, the link hears why, opens a new session (on the restarted worker) and speaks.</summary>
        [Test]
        public void ASessionWhoseClusterWorkerDiesIsReplaced()
        {
            if (!System.IO.File.Exists("/usr/bin/pkill")) Assert.Ignore("needs pkill (Linux) to kill the Ray worker");
            using (var server = new LiveServer(0, "--cluster local --cluster-workers 1 --cluster-cpus 2"))
            using (var link = new AvatarLink(server.Endpoint, new AvatarLinkOptions { ClientName = "nunit", ConnectTimeoutMs = 60000, RequestTimeoutMs = 30000 }))
            {
                link.Connect();
                string first = link.SessionId;
                link.Say("The river road is longer, but the bridges still stand, and the water is low this time of year.");
                Thread.Sleep(1500);
                using (var kill = Process.Start(new ProcessStartInfo("/usr/bin/pkill", "-9 -f ray::SessionWorker") { UseShellExecute = false }))
                    kill.WaitForExit(5000);
                var seen = new List<LinkEvent>();
                var error = WaitFor(link, e => e.Kind == LinkEventKind.Error && e.Code == "session_closed", 20000, seen);
                StringAssert.Contains("died", error.Text);
                Assert.IsTrue(seen.Exists(e => e.Kind == LinkEventKind.StreamEnded && e.Text == "error"), "the line ended in error first");
                WaitFor(link, e => e.Kind == LinkEventKind.Reconnected, 60000);
                Assert.IsNotNull(link.SessionId);
                Assert.AreNotEqual(first, link.SessionId);
                link.Say("Still here.");
                Assert.AreEqual("done", WaitFor(link, e => e.Kind == LinkEventKind.StreamEnded, 20000).Text);
            }
        }

        [Test]
        public void SayPlaysAudioAndFramesOnOneTimeline()
        {
            using (var link = Connect(realtime: false))
            {
                Assert.AreEqual(52, ((List<object>)link.Welcome.Fields["blendshapes"]).Count);
                link.Say("Bob paid for my map.");
                var end = WaitFor(link, e => e.Kind == LinkEventKind.StreamEnded, 10000);
                Assert.AreEqual("done", end.Text);
                long samples = end.Message.Long("samples"), frames = end.Message.Long("frames");
                Assert.AreEqual((long)Math.Ceiling(samples * 60.0 / link.SampleRate - 1e-9), frames);
                // Play it like an audio thread at 48 kHz and sample frames like a render loop.
                var buffer = new float[480 * 2];
                var frame = new float[63];
                var played = new List<StreamEvent>();
                int reads = 0;
                float maxJaw = 0;
                while (!played.Exists(e => e.Name == "finished") && reads < 2000)
                {
                    link.Stream.ReadAudio(buffer, 48000, 2);
                    reads++;
                    link.Stream.SampleFrame(frame, 0.01);
                    maxJaw = Math.Max(maxJaw, frame[17]);
                    link.Stream.PollEvents(played);
                }
                double playedSeconds = reads * 0.01, spoken = (double)samples / link.SampleRate;
                Assert.AreEqual(spoken, playedSeconds, 0.02, "the audio plays for exactly the utterance's length");
                Assert.Greater(maxJaw, 0.2f, "the jaw opened");
                var words = played.FindAll(e => e.Name == "word").ConvertAll(e => e.Text);
                CollectionAssert.AreEqual(new[] { "Bob", "paid", "for", "my", "map" }, words);
            }
        }

        [Test]
        public void InterruptStopsAtOnceAndTheServerConfirmsTheCut()
        {
            using (var link = Connect())
            {
                link.Say("This is a long line that the player will cut off before it can ever reach its end.");
                var buffer = new float[4800];
                var watch = Stopwatch.StartNew();
                while (!link.Stream.IsSpeaking && watch.ElapsedMilliseconds < 5000) { link.Stream.ReadAudio(buffer, 48000, 1); Thread.Sleep(10); }
                for (int i = 0; i < 30; i++) link.Stream.ReadAudio(buffer, 48000, 1);   // 3 s of playback requested, some buffered
                link.Interrupt();
                Assert.IsFalse(link.Stream.IsSpeaking, "local playback stops at once");
                link.Stream.ReadAudio(buffer, 48000, 1);
                Assert.AreEqual(0f, buffer[buffer.Length - 1]);
                var end = WaitFor(link, e => e.Kind == LinkEventKind.StreamEnded, 3000);
                Assert.AreEqual("interrupted", end.Text);
                Assert.AreEqual(end.Message.Double("time"), 0, 1e9);
                // The session goes on.
                link.Say("Okay.");
                Assert.AreEqual("done", WaitFor(link, e => e.Kind == LinkEventKind.StreamEnded, 10000).Text);
            }
        }

        [Test]
        public void ServerErrorsArriveAsEventsWithCodes()
        {
            using (var link = Connect())
            {
                long seq = link.Say("");
                var error = WaitFor(link, e => e.Kind == LinkEventKind.Error, 3000);
                Assert.AreEqual("empty_text", error.Code);
                Assert.AreEqual("say: text is empty", error.Text);
                Assert.AreEqual(seq, error.Re);
                var caught = Assert.Throws<AvatarLinkException>(() => link.Request(new Message("set").With("session", link.SessionId).With("emotion", "smug")));
                Assert.AreEqual("bad_field", caught.Code);
            }
        }

        [Test]
        public void HeartbeatsKeepAnIdleLinkAlive()
        {
            var zmtp = new ZmtpOptions { HeartbeatIntervalMs = 200, HeartbeatTimeoutMs = 1000 };
            using (var link = Connect(zmtp: zmtp))
            {
                Thread.Sleep(3000);   // three heartbeat timeouts with nothing to say
                var pong = link.Request(new Message("ping").With("client_time", 1.0));
                Assert.AreEqual("pong", pong.Type);
                var events = new List<LinkEvent>();
                link.Poll(events);
                Assert.IsFalse(events.Exists(e => e.Kind == LinkEventKind.Disconnected), "no drop while idle");
            }
        }

        [Test]
        public void AQuietLinkBreathesAtTheSessionClock()
        {
            using (var link = Connect())
            {
                Thread.Sleep(1200);
                var frame = new float[63];
                for (int i = 0; i < 50; i++) { link.SampleFrame(frame, 0.01); Thread.Sleep(10); }   // eased in from neutral
                float low = 1, high = 0;
                for (int i = 0; i < 150; i++)       // 1.5 s of render frames
                {
                    Assert.IsFalse(link.SampleFrame(frame, 0.01), "idle is not speech");
                    low = Math.Min(low, frame[17]);
                    high = Math.Max(high, frame[17]);
                    Thread.Sleep(10);
                }
                Assert.Greater(low, 0.004f, "the idle stream, not the neutral face, is shown");
                Assert.Less(high, 0.06f);
                Assert.Greater(high - low, 0.003f, "it breathes");
                var events = new List<LinkEvent>();
                link.Poll(events);
                Assert.IsFalse(events.Exists(e => e.Kind == LinkEventKind.StreamEnded), "idle streams are not lines");
            }
        }

        [Test]
        public void PingMapsTheSessionClock()
        {
            using (var link = Connect())
            {
                for (int i = 0; i < 5; i++) link.Request(new Message("ping").With("client_time", link.LocalTime).With("session", link.SessionId));
                link.Ping();
                Thread.Sleep(100);
                Assert.IsTrue(link.Clock.HasEstimate);
                Assert.Less(link.Clock.Uncertainty, 0.05);
            }
        }

        [Test]
        public void ReconnectsAfterTheServerRestarts()
        {
            using (var server = new LiveServer())
            {
                var options = new AvatarLinkOptions { Zmtp = new ZmtpOptions { HeartbeatIntervalMs = 200, HeartbeatTimeoutMs = 1000, ReconnectMaxMs = 500 } };
                using (var link = new AvatarLink(server.Endpoint, options))
                {
                    link.Connect();
                    string first = link.SessionId;
                    server.Stop();
                    WaitFor(link, e => e.Kind == LinkEventKind.Disconnected, 5000);
                    server.Start();
                    WaitFor(link, e => e.Kind == LinkEventKind.Reconnected, 15000);
                    Assert.IsNotNull(link.SessionId);
                    Assert.AreNotEqual(first, link.SessionId);
                    link.Say("Back again.");
                    Assert.AreEqual("done", WaitFor(link, e => e.Kind == LinkEventKind.StreamEnded, 10000).Text);
                }
            }
        }

        [Test]
        public void ANothingListeningEndpointGivesAClearError()
        {
            var link = new AvatarLink("tcp://127.0.0.1:" + LiveServer.FreePort(), new AvatarLinkOptions { ConnectTimeoutMs = 800 });
            var caught = Assert.Throws<TimeoutException>(() => link.Connect());
            StringAssert.Contains("connection refused", caught.Message);
        }

        [Test]
        public void DisposingWhileConnectingEndsTheConnectAtOnce()
        {
            // A game leaving play mode while the server is down must not wait out the connect timeout.
            var link = new AvatarLink("tcp://127.0.0.1:" + LiveServer.FreePort(), new AvatarLinkOptions { ConnectTimeoutMs = 10000 });
            Exception caught = null;
            var connecting = new Thread(() => { try { link.Connect(); } catch (Exception ex) { caught = ex; } });
            connecting.Start();
            Thread.Sleep(200);
            var watch = Stopwatch.StartNew();
            link.Dispose();
            Assert.IsTrue(connecting.Join(2000), "Connect returned");
            Assert.Less(watch.ElapsedMilliseconds, 1000);
            Assert.IsInstanceOf<ObjectDisposedException>(caught);
        }

        [Test]
        public void TheMirrorPortIsNamedWhenUsedByMistake()
        {
            var link = new AvatarLink(_server.MirrorEndpoint, new AvatarLinkOptions { ConnectTimeoutMs = 1500 });
            var caught = Assert.Throws<TimeoutException>(() => link.Connect());
            StringAssert.Contains("is a XPUB socket", caught.Message);
        }

        [Test]
        public void AnObserverSeesTheStreamOnTheMirror()
        {
            using (var sub = new ZmtpSocket(ZmtpSocketType.Sub, _server.MirrorEndpoint))
            {
                sub.WaitConnected(3000);
                sub.Subscribe(Encoding.ASCII.GetBytes("s/"));
                Thread.Sleep(300);   // the subscription must reach the XPUB first
                using (var link = Connect(realtime: false))
                {
                    link.Say("Watch me.");
                    var types = new List<string>();
                    List<byte[]> frames;
                    while (sub.TryReceive(out frames, 3000))
                    {
                        StringAssert.StartsWith("s/" + link.SessionId, Encoding.ASCII.GetString(frames[0]));
                        var m = Codec.Decode(frames.GetRange(1, frames.Count - 1));
                        types.Add(m.Type);
                        if (m.Type == "end") break;
                    }
                    Assert.AreEqual("stream", types[0]);
                    Assert.AreEqual("end", types[types.Count - 1]);
                    CollectionAssert.Contains(types, "audio");
                    CollectionAssert.Contains(types, "frames");
                }
            }
        }
    }
}
