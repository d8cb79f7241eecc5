// C# client benchmark: decode throughput, and end-to-end frame latency from the Python server to
// the C# client over loopback with N concurrent sessions at 60 fps (tools/bench_csharp.sh runs it).
//
// Latency of a frame batch = its arrival here minus the moment the server was due to send it
// (its media time minus the server's lead), mapped to this clock with ping/pong clock sync. Only
// steady-state batches count: the burst that fills the lead when a line starts is sent at once on
// purpose.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using Avbridge.Core;
using Avbridge.Core.Protocol;

static class Bench
{
    const double Lead = 0.5;
    const string Line = "Welcome, traveller. The market opens at dawn, the tavern never closes, and the blacksmith will mend your sword for a fair price.";

    static void Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "micro")   // the codec and CURVE alone, no server
        {
            DecodeThroughput();
            CurveCost();
            return;
        }
        string endpoint = args[0];
        int sessions = args.Length > 1 ? int.Parse(args[1]) : 20;
        double seconds = args.Length > 2 ? double.Parse(args[2]) : 10;
        DecodeThroughput();
        CurveCost();
        Latency(endpoint, sessions, seconds);
        UnityPathBench.Run(endpoint, 4, Math.Max(5, seconds), Environment.GetEnvironmentVariable("AVBRIDGE_PYTHON"),
                           Environment.GetEnvironmentVariable("AVBRIDGE_REPO"));
    }

    static void DecodeThroughput()
    {
        var frames = new Message("frames").With("session", "a1b2c3d4e5f6").With("utterance", "u1").With("time", 12.5)
            .With("first", 600L).With("count", 6L);
        frames.Bulk.Add(new byte[6 * 63 * 4]);
        var audio = new Message("audio").With("session", "a1b2c3d4e5f6").With("utterance", "u1").With("time", 12.5).With("offset", 264600L);
        audio.Bulk.Add(new byte[2205 * 2]);
        foreach (var message in new[] { frames, audio })
        {
            var encoded = Codec.Encode(message);
            long bytes = encoded.Sum(f => (long)f.Length);
            for (int i = 0; i < 20000; i++) Codec.Decode(encoded);   // warm up the JIT
            var watch = Stopwatch.StartNew();
            int n = 0;
            while (watch.ElapsedMilliseconds < 1000) { Codec.Decode(encoded); n++; }
            double perSecond = n / watch.Elapsed.TotalSeconds;
            Console.WriteLine("| decode `{0}` ({1} bytes) | {2:N0} messages/s | {3:N0} MB/s | {4:F2} µs each |",
                              message.Type, bytes, perSecond, perSecond * bytes / 1e6, 1e6 / perSecond);
        }
    }

    /// <summary>What CURVE adds to each message on the client: one XSalsa20-Poly1305 box (send) or
    /// open (receive) of a frames batch and of an audio piece, beside the codec's decode.</summary>
    static void CurveCost()
    {
        Avbridge.Core.Zmtp.AllocationProbe.Enabled = true;
        var key = new byte[32];
        var nonce = new byte[24];
        new Random(1).NextBytes(key);
        foreach (int size in new[] { 1597, 4490 })
        {
            var message = new byte[size];
            var box = Avbridge.Core.Zmtp.Curve.NaCl.SecretBox(message, nonce, key);
            for (int i = 0; i < 200; i++) Avbridge.Core.Zmtp.Curve.NaCl.SecretBoxOpen(box, nonce, key);
            // As the read thread opens a MESSAGE: in place, into an array from the frame pool.
            var pool = new Avbridge.Core.Zmtp.FramePool();
            var head = new byte[1];
            var watch = Stopwatch.StartNew();
            int n = 0;
            long allocated0 = Avbridge.Core.Zmtp.AllocationProbe.CurrentThread();
            while (watch.ElapsedMilliseconds < 1000)
            {
                var frame = pool.Rent(size - 1);
                if (!Avbridge.Core.Zmtp.Curve.NaCl.SecretBoxOpenInto(box, 0, box.Length, nonce, key, head, frame, 0)) throw new Exception("did not open");
                pool.Return(frame);
                n++;
            }
            long allocated = Avbridge.Core.Zmtp.AllocationProbe.CurrentThread() - allocated0;
            Console.WriteLine("| CURVE: open one {0}-byte message (XSalsa20-Poly1305, C#) | {1:N0} messages/s | | {2:F1} µs each | {3:N0} bytes allocated each |",
                              size, n / watch.Elapsed.TotalSeconds, 1e6 * watch.Elapsed.TotalSeconds / n, (double)allocated / n);
        }
    }

    static void Latency(string endpoint, int sessions, double seconds)
    {
        var latencies = new List<double>();
        var steady = new List<double>();           // after every session has started talking
        double steadyFrom = double.MaxValue;
        var sync = new object();
        int batches = 0, late = 0;
        var links = new List<AvatarLink>();
        for (int i = 0; i < sessions; i++)
        {
            var link = new AvatarLink(endpoint, new AvatarLinkOptions { ClientName = "bench" + i });
            link.Connect();
            for (int p = 0; p < 8; p++) link.Request(new Message("ping").With("client_time", link.LocalTime).With("session", link.SessionId));
            link.Ping();
            links.Add(link);
        }
        Thread.Sleep(200);
        foreach (var link in links)
        {
            var l = link;
            var burstUntil = new Dictionary<string, double>();
            var idle = new HashSet<string>();
            l.MessageReceived = m =>
            {
                double now = l.LocalTime;
                if (m.Type == "stream")
                {
                    burstUntil[m.Str("utterance")] = now + 0.02;
                    if (m.Has("idle") && m.Bool("idle")) idle.Add(m.Str("utterance"));
                    return;
                }
                // A line's end starts the next line; an idle stream's end is not a line's.
                if (m.Type == "end" && m.Str("status") == "done" && !idle.Remove(m.Str("utterance")))
                {
                    ThreadPool.QueueUserWorkItem(_ => l.Say(Line));
                    return;
                }
                if (m.Type != "frames") return;
                double due = l.Clock.ToLocal(m.Double("time") - Lead);
                double until;
                burstUntil.TryGetValue(m.Str("utterance"), out until);
                lock (sync)
                {
                    batches++;
                    if (now > l.Clock.ToLocal(m.Double("time"))) late++;
                    if (due > until)
                    {
                        latencies.Add((now - due) * 1000);
                        if (now > steadyFrom) steady.Add((now - due) * 1000);
                    }
                }
            };
        }
        var client = links[0];
        client.Say(Line);   // synthesised once, then cached for every session
        Thread.Sleep(1500);
        foreach (var link in links.Skip(1)) link.Say(Line);
        lock (sync) steadyFrom = links[0].LocalTime + 2.0;
        Thread.Sleep((int)(seconds * 1000));
        foreach (var link in links) { link.MessageReceived = null; link.Dispose(); }
        Console.WriteLine();
        Console.WriteLine("| sessions at 60 fps | measured | frame batches | latency p50 (ms) | p95 (ms) | p99 (ms) | max (ms) | batches after their frame time |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (var run in new[] { Tuple.Create("from the first line", latencies), Tuple.Create("steady (from 2 s after all start)", steady) })
        {
            var values = run.Item2;
            values.Sort();
            Func<double, double> pct = p => values.Count == 0 ? double.NaN : values[Math.Min(values.Count - 1, (int)(p / 100 * values.Count))];
            Console.WriteLine("| {0} | {1} | {2} | {3:F2} | {4:F2} | {5:F2} | {6:F2} | {7} |", sessions, run.Item1, values.Count, pct(50), pct(95), pct(99),
                              values.Count > 0 ? values[values.Count - 1] : double.NaN, late);
        }
        Console.WriteLine("clock sync uncertainty (half the fastest round trip): {0:F3} ms", client.Clock.Uncertainty * 1000);
    }
}
