// The Unity glue's logic, engine-free (AvatarController, AvatarLink, ZmtpSocket), against a real
// server where a server is needed. Each test names the finding it covers (issue 13's list).
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using Avbridge.Core;
using Avbridge.Core.Zmtp;
using NUnit.Framework;

namespace Avbridge.Tests
{
    [TestFixture]
    public class ControllerTests
    {
        static AvatarLinkOptions FastOptions()
        {
            return new AvatarLinkOptions
            {
                ClientName = "nunit-controller",
                Zmtp = new ZmtpOptions { HeartbeatIntervalMs = 200, HeartbeatTimeoutMs = 1000, ReconnectMinMs = 50, ReconnectMaxMs = 300 },
            };
        }

        /// <summary>Run the controller's Update at ~100 Hz until `done` or the timeout.</summary>
        static bool Pump(AvatarController c, Func<bool> done, int timeoutMs)
        {
            var watch = Stopwatch.StartNew();
            while (watch.ElapsedMilliseconds < timeoutMs)
            {
                c.Update(0.01);
                if (done()) return true;
                Thread.Sleep(10);
            }
            return false;
        }

        /// <summary>What a game's audio thread does: read the speech in real time (10 ms buffers).</summary>
        sealed class AudioThread : IDisposable
        {
            volatile bool _stop;
            readonly Thread _thread;
            public AudioThread(AvatarController c)
            {
                _thread = new Thread(() =>
                {
                    var buffer = new float[480];
                    while (!_stop)
                    {
                        var link = c.Link;
                        if (link != null) link.Stream.ReadAudio(buffer, 48000, 1);
                        Thread.Sleep(10);
                    }
                }) { IsBackground = true };
                _thread.Start();
            }
            public void Dispose() { _stop = true; _thread.Join(); }
        }

        [Test]
        public void Finding6_DisposeWithTheServerDownDoesNotWaitOutTheBackoff()
        {
            // 10 NPCs on a scene change while the server is down once froze the main thread 2 s each.
            var endpoint = "tcp://127.0.0.1:" + LiveServer.FreePort();
            var controllers = new List<AvatarController>();
            for (int i = 0; i < 10; i++)
            {
                var c = new AvatarController(FastOptions(), endpoint);
                c.Connect();
                controllers.Add(c);
            }
            Thread.Sleep(400);   // every socket is now in its reconnect backoff
            var watch = Stopwatch.StartNew();
            foreach (var c in controllers) c.Disconnect();
            Assert.Less(watch.ElapsedMilliseconds, 10 * 50, "10 disposes with the server down");
        }

        [Test]
        public void Finding6_DisposingAReconnectingLinkIsQuick()
        {
            using (var server = new LiveServer())
            {
                var link = new AvatarLink(server.Endpoint, FastOptions());
                link.Connect();
                server.Stop();
                Thread.Sleep(600);   // dropped, retrying
                var watch = Stopwatch.StartNew();
                link.Dispose();
                Assert.Less(watch.ElapsedMilliseconds, 50);
            }
        }

        [Test]
        public void WhileTheServerIsDownConnectKeepsTryingAndSaysSoOnce()
        {
            int port = LiveServer.FreePort();
            var c = new AvatarController(new AvatarLinkOptions { ConnectTimeoutMs = 300 }, "tcp://127.0.0.1:" + port) { RetrySeconds = 0.2 };
            int errors = 0;
            c.Error += (code, text) => errors++;
            c.Connect();
            Pump(c, () => false, 1500);   // three or four failed attempts
            Assert.AreEqual(1, errors, "one warning per outage, not one per attempt");
            StringAssert.Contains("not_connected", c.LastError);
            using (new LiveServer(port))
            {
                Assert.IsTrue(Pump(c, () => c.IsConnected, 20000), "connected once the server came up");
                c.Disconnect();
            }
        }

        [Test]
        public void Finding7_QuickDisableEnableLeavesALiveClient()
        {
            var server = LiveServer.Shared();
            var c = new AvatarController(FastOptions(), server.Endpoint);
            for (int i = 0; i < 5; i++)
            {
                c.Connect();
                Thread.Sleep(i * 7);      // disable at various points of the connect
                c.Disconnect();
            }
            c.Connect();
            using (new AudioThread(c))
            {
                try
                {
                    Assert.IsTrue(Pump(c, () => c.IsConnected, 10000), "connected after 5 toggles");
                    var line = c.Say("Still here.");
                    Assert.IsTrue(Pump(c, () => line.IsDone, 15000));
                    Assert.AreEqual(SpeechState.Finished, line.State, line.ErrorMessage);
                }
                finally { c.Disconnect(); }
            }
        }

        [Test]
        public void Finding8_AfterAReconnectTheClockIsNewAndSettingsAreRestored()
        {
            using (var server = new LiveServer())
            {
                var c = new AvatarController(FastOptions(), server.Endpoint);
                int disconnects = 0, reconnects = 0;
                c.Disconnected += why => disconnects++;
                c.Reconnected += why => reconnects++;
                c.Connect();
                Assert.IsTrue(Pump(c, () => c.IsConnected, 10000));
                c.SetEmotion("happy", 0.6);
                c.SetGazeTarget(0.2, -0.1);
                Assert.IsTrue(Pump(c, () => c.Link.Clock.HasEstimate, 2000));
                server.Stop();
                Assert.IsTrue(Pump(c, () => disconnects > 0, 5000), "Disconnected");
                Thread.Sleep(1200);   // several failed retries
                c.Update(0.01);
                Assert.AreEqual(1, disconnects, "one Disconnected per outage, not one per retry");
                Assert.IsFalse(c.Link.IsConnected);
                server.Start();
                Assert.IsTrue(Pump(c, () => reconnects > 0, 15000), "Reconnected");
                Assert.IsTrue(Pump(c, () => c.Link.Clock.HasEstimate, 3000), "the new session's clock is learnt");
                var restored = c.Link.RememberedSettings;
                Assert.AreEqual("happy", restored["emotion"]);
                Assert.AreEqual(0.2, (double)restored["gaze_yaw"], 1e-9);
                // The idle stream of the new session is shown again (its frames land at the new clock).
                bool idleShown = Pump(c, () =>
                {
                    var f = c.CurrentFrame;
                    return Math.Abs(f[52]) + Math.Abs(f[53]) + Math.Abs(f[54]) > 1e-4;   // the idle head moves
                }, 3000);
                Assert.IsTrue(idleShown, "idle frames shown after the reconnect");
                c.Disconnect();
            }
        }

        [Test]
        public void Finding14_SayReturnsAHandleAndInterruptSettlesQueuedLines()
        {
            var server = LiveServer.Shared();
            var c = new AvatarController(FastOptions(), server.Endpoint);
            var finished = new List<SpeechHandle>();
            var queued = new List<string>();
            c.UtteranceFinished += h => finished.Add(h);
            c.UtteranceQueued += h => queued.Add(h.Id);
            c.Connect();
            using (new AudioThread(c))
            try
            {
            Assert.IsTrue(Pump(c, () => c.IsConnected, 10000));
            var first = c.Say("This first line is long enough to still be playing when we cut it off.");
            var second = c.Say("And this one waits behind it.", utterance: "line-two");
            Assert.AreEqual("line-two", second.Id);
            Assert.IsTrue(Pump(c, () => queued.Count == 2, 5000), "both lines queued (the ok reply is an event)");
            Assert.IsTrue(Pump(c, () => first.State == SpeechState.Playing, 10000));
            c.Interrupt();
            Assert.AreEqual(SpeechState.Interrupted, first.State);
            Assert.AreEqual(SpeechState.Interrupted, second.State, "a queued line is settled too, not dropped silently");
            Assert.IsTrue(first.Completion.IsCompleted && second.Completion.Result == SpeechState.Interrupted);
            CollectionAssert.AreEquivalent(new[] { first.Id, second.Id }, finished.ConvertAll(h => h.Id));
            var third = c.Say("Done now.");
            Assert.IsTrue(Pump(c, () => third.IsDone, 15000));
            Assert.AreEqual(SpeechState.Finished, third.State);
            }
            finally { c.Disconnect(); }
        }

        [Test]
        public void Finding14_ARefusedLineFailsWithTheServersSentence()
        {
            var server = LiveServer.Shared();
            var c = new AvatarController(FastOptions(), server.Endpoint);
            c.Connect();
            Assert.IsTrue(Pump(c, () => c.IsConnected, 10000));
            var line = c.Say("   ");
            Assert.IsTrue(Pump(c, () => line.IsDone, 5000));
            Assert.AreEqual(SpeechState.Failed, line.State);
            Assert.AreEqual("empty_text", line.ErrorCode);
            c.Disconnect();
            var offline = c.Say("Nobody hears this.");
            Assert.AreEqual(SpeechState.Failed, offline.State);
            Assert.AreEqual("not_connected", offline.ErrorCode);
        }

        [Test]
        public void Finding17_OnDisconnectTheFaceEasesToNeutral()
        {
            using (var server = new LiveServer())
            {
                var c = new AvatarController(FastOptions(), server.Endpoint);
                c.Connect();
                Assert.IsTrue(Pump(c, () => c.IsConnected, 10000));
                using (new AudioThread(c))
                try
                {
                    c.Say("Open your mouth wide and say aaah for a long long time.");
                    Assert.IsTrue(Pump(c, () => c.CurrentFrame[17] > 0.15f, 15000), "the jaw opens");
                    server.Stop();
                    c.Disconnect();   // or the link drops: either way the face must not freeze
                    for (int i = 0; i < 60; i++) c.Update(1 / 60.0);
                    Assert.Less(c.CurrentFrame[17], 0.01f, "jaw eased shut within a second");
                }
                finally { c.Disconnect(); }
            }
        }

        [Test]
        public void Finding21_SendsNeverBlockTheCallerWhenTheServerStopsReading()
        {
            // A server that completes the handshake and then never reads: the TCP window fills.
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            var accepted = new Thread(() =>
            {
                try
                {
                    using (var peer = listener.AcceptTcpClient())
                    {
                        var s = peer.GetStream();
                        var greeting = new byte[64];
                        greeting[0] = 0xff; greeting[9] = 0x7f; greeting[10] = 3; greeting[11] = 1;
                        System.Text.Encoding.ASCII.GetBytes("NULL", 0, 4, greeting, 12);
                        s.Write(greeting, 0, 64);
                        var ready = new List<byte> { 4, 0, 5 };
                        ready.AddRange(System.Text.Encoding.ASCII.GetBytes("READY"));
                        ready.Add(11); ready.AddRange(System.Text.Encoding.ASCII.GetBytes("Socket-Type"));
                        ready.AddRange(new byte[] { 0, 0, 0, 6 }); ready.AddRange(System.Text.Encoding.ASCII.GetBytes("ROUTER"));
                        ready[1] = (byte)(ready.Count - 2);
                        s.Write(ready.ToArray(), 0, ready.Count);
                        Thread.Sleep(3000);   // and read nothing
                    }
                }
                catch (Exception) { }
            });
            accepted.Start();
            var socket = new ZmtpSocket(ZmtpSocketType.Dealer, "tcp://127.0.0.1:" + port, new ZmtpOptions { MaxQueuedSendBytes = 1 << 20 });
            socket.WaitConnected(2000);
            var big = new List<byte[]> { new byte[64 * 1024] };
            var watch = Stopwatch.StartNew();
            int accepted64k = 0;
            for (int i = 0; i < 200; i++) if (socket.TrySend(big)) accepted64k++;
            long elapsed = watch.ElapsedMilliseconds;
            string error = socket.LastError;
            socket.Dispose();
            listener.Stop();
            accepted.Join();
            Assert.Less(elapsed, 200, "200 sends returned at once");
            Assert.Less(accepted64k, 200, "a full queue refuses instead of blocking");
            StringAssert.Contains("send queue full", error ?? "");
        }

        [Test]
        public void RepliesNobodyAwaitsAreNotKeptAndAnAwaitedOneIsNeverDropped()
        {
            var server = LiveServer.Shared();
            using (var link = new AvatarLink(server.Endpoint, FastOptions()))
            {
                link.Connect();
                for (int i = 0; i < 400; i++) link.SetParameters(expressiveness: 1.0);   // 400 unawaited ok replies
                var pong = link.Request(new Core.Protocol.Message("ping").With("client_time", 1.0).With("session", link.SessionId));
                Assert.AreEqual("pong", pong.Type);
            }
        }
    }
}
