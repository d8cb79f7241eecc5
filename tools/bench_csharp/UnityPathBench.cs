// The Unity glue's budgets, measured on its engine-free core (AvatarController is what
// AvbridgeClient runs each frame): garbage per NPC per second on the main and network threads,
// Disconnect with the server down, time from a server restart to idle frames again with settings
// restored, and an hour of microphone input in bounded memory. tools/bench_csharp.sh runs it.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Net.Sockets;
using System.Threading;
using Avbridge.Core;
using Avbridge.Core.Mapping;
using Avbridge.Core.Streaming;
using Avbridge.Core.Zmtp;

static class UnityPathBench
{
    sealed class Mesh : IBlendshapeMesh
    {
        readonly float[] _w = new float[52];
        public float GetWeight(int shape) { return _w[shape]; }
        public void SetWeight(int shape, float weight) { _w[shape] = weight; }
    }

    public static void Run(string endpoint, int npcs, double seconds, string python, string repo)
    {
        AllocationProbe.Enabled = true;
        Console.WriteLine();
        Console.WriteLine("| Unity path, {0} NPCs | main thread (Update + blendshapes) | network thread (receive + decode) | budget |", npcs);
        Console.WriteLine("|---|---|---|---|");
        var controllers = new List<AvatarController>();
        for (int i = 0; i < npcs; i++) controllers.Add(new AvatarController(new AvatarLinkOptions { ClientName = "bench-unity" + i }, endpoint));
        foreach (var c in controllers) c.Connect();
        Pump(controllers, () => controllers.TrueForAll(c => c.IsConnected), 20000);
        var stop = false;
        var audio = new Thread(() =>   // the audio thread: 1024-sample buffers at 48 kHz, for every NPC
        {
            var buffer = new float[2048];
            while (!stop) { foreach (var c in controllers) { var l = c.Link; if (l != null) l.Stream.ReadAudio(buffer, 48000, 2); } Thread.Sleep(21); }
        }) { IsBackground = true };
        audio.Start();
        Pump(controllers, () => false, 2000);   // warm up: pools fill, the JIT settles
        Measure("idle (breathing, blinks)", controllers, seconds, false);
        // Long enough to outlast the measurement, so the garbage is the frame loop's, not Say's.
        const string line = "Welcome, traveller. The market opens at dawn, the tavern never closes, and the blacksmith will mend your sword for a fair price. "
                          + "Mind the bridge on the river road; the planks are old, and the river is cold and fast in spring.";
        var handles = new Dictionary<AvatarController, SpeechHandle>();
        foreach (var c in controllers) handles[c] = c.Say(line);
        Pump(controllers, () => false, 3000);   // speech under way everywhere
        Measure("speaking (audio, frames, word and phoneme events)", controllers, seconds, true);
        long say0 = AllocationProbe.CurrentThread();
        foreach (var c in controllers) c.Say(line);
        Console.WriteLine("| one Say (handle, message, encode) | {0:F2} KB | | |", (AllocationProbe.CurrentThread() - say0) / 1024.0 / controllers.Count);
        stop = true;
        audio.Join();
        foreach (var c in controllers) c.Disconnect();

        // Disconnect with the server down: 10 NPCs on a scene change.
        var down = "tcp://127.0.0.1:" + FreePort();
        var dead = new List<AvatarController>();
        for (int i = 0; i < 10; i++) { var c = new AvatarController(new AvatarLinkOptions(), down); c.Connect(); dead.Add(c); }
        Thread.Sleep(700);
        var watch = Stopwatch.StartNew();
        foreach (var c in dead) c.Disconnect();
        Console.WriteLine();
        Console.WriteLine("| Disconnect while the server was never up | 10 NPCs: {0:F1} ms in all, {1:F2} ms each | budget 50 ms each |",
                          watch.Elapsed.TotalMilliseconds, watch.Elapsed.TotalMilliseconds / 10);

        if (python != null) { DisposeAfterTheServerDied(python, repo); Reconnect(python, repo); }
        MicrophoneHour();
    }

    static void Measure(string what, List<AvatarController> controllers, double seconds, bool speaking, Action each = null)
    {
        var mesh = new Mesh();
        var layer = new BlendshapeLayer(new ResolvedMapping(BlendshapeMapping.Arkit(), ArkitNames.All), null);
        long main0 = AllocationProbe.CurrentThread();
        long net0 = 0;
        foreach (var c in controllers) net0 += c.Link.NetworkAllocatedBytes;
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed.TotalSeconds < seconds)
        {
            foreach (var c in controllers) { c.Update(1 / 60.0); layer.Apply(c.CurrentFrame, 1f, BlendMode.Additive, mesh); }
            if (each != null) each();
            Thread.Sleep(16);
        }
        double elapsed = watch.Elapsed.TotalSeconds;
        long main1 = AllocationProbe.CurrentThread(), net1 = 0;
        foreach (var c in controllers) net1 += c.Link.NetworkAllocatedBytes;
        double perNpc = controllers.Count * elapsed;
        Console.WriteLine("| {0} | {1:F2} KB/s per NPC | {2:F2} KB/s per NPC | main <= 1, network <= 20{3} |", what,
                          (main1 - main0) / 1024.0 / perNpc, (net1 - net0) / 1024.0 / perNpc, speaking ? " (speaking)" : "");
    }

    static void Pump(List<AvatarController> controllers, Func<bool> done, int timeoutMs)
    {
        var watch = Stopwatch.StartNew();
        while (watch.ElapsedMilliseconds < timeoutMs && !done())
        {
            foreach (var c in controllers) c.Update(1 / 60.0);
            Thread.Sleep(16);
        }
    }

    static void Reconnect(string python, string repo)
    {
        int port = FreePort();
        var endpoint = "tcp://127.0.0.1:" + port;
        var server = Serve(python, repo, port);
        var options = new AvatarLinkOptions { Zmtp = new ZmtpOptions { HeartbeatIntervalMs = 250, HeartbeatTimeoutMs = 1000, ReconnectMaxMs = 250 } };
        var c = new AvatarController(options, endpoint);
        var list = new List<AvatarController> { c };
        c.Connect();
        Pump(list, () => c.IsConnected, 20000);
        c.SetEmotion("happy", 0.6);
        c.SetGazeTarget(0.25, -0.1);
        Pump(list, () => false, 1500);
        server.Kill();
        server.WaitForExit();
        Pump(list, () => c.State == ConnectionState.Reconnecting, 5000);
        server = Serve(python, repo, port);
        var sinceUp = Stopwatch.StartNew();   // the server accepts connections from here
        bool reconnected = false;
        double reconnectedAt = double.NaN, idleAt = double.NaN;
        c.Reconnected += _ => { reconnected = true; reconnectedAt = sinceUp.Elapsed.TotalSeconds; };
        var before = (float[])c.CurrentFrame.Clone();
        Pump(list, () =>
        {
            if (!reconnected) return false;
            var f = c.CurrentFrame;
            bool moving = Math.Abs(f[52] - before[52]) + Math.Abs(f[53] - before[53]) > 1e-4;
            Array.Copy(f, before, 63);
            if (moving && double.IsNaN(idleAt)) idleAt = sinceUp.Elapsed.TotalSeconds;
            return moving;
        }, 10000);
        var restored = c.Link != null ? c.Link.RememberedSettings : new Dictionary<string, object>();
        Console.WriteLine("| Server restart -> Reconnected | {0:F2} s | -> idle frames shown | {1:F2} s (budget 1 s) | restored: {2} |",
                          reconnectedAt, idleAt, string.Join(", ", new List<string>(restored.Keys).ToArray()));
        c.Disconnect();
        server.Kill();
    }

    /// <summary>The scene change of the review: 10 NPCs connected, the server gone, then Disable.</summary>
    static void DisposeAfterTheServerDied(string python, string repo)
    {
        int port = FreePort();
        var server = Serve(python, repo, port);
        var list = new List<AvatarController>();
        for (int i = 0; i < 10; i++) { var c = new AvatarController(new AvatarLinkOptions(), "tcp://127.0.0.1:" + port); c.Connect(); list.Add(c); }
        Pump(list, () => list.TrueForAll(c => c.IsConnected), 20000);
        server.Kill();
        server.WaitForExit();
        Pump(list, () => false, 1500);   // dropped, in their reconnect backoff
        var watch = Stopwatch.StartNew();
        foreach (var c in list) c.Disconnect();
        Console.WriteLine("| Disconnect after the server died | 10 NPCs: {0:F1} ms in all, {1:F2} ms each | budget 50 ms each |",
                          watch.Elapsed.TotalMilliseconds, watch.Elapsed.TotalMilliseconds / 10);
    }

    static Process Serve(string python, string repo, int port)
    {
        var info = new ProcessStartInfo(python, "-m avbridge serve --voice espeak --log-level warning --mirror off --bind tcp://127.0.0.1:" + port)
        { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        info.EnvironmentVariables["PYTHONPATH"] = Path.Combine(repo, "backend");
        var p = Process.Start(info);
        p.BeginErrorReadLine();
        p.BeginOutputReadLine();
        for (int i = 0; i < 300; i++)
        {
            try { using (var probe = new TcpClient()) probe.Connect("127.0.0.1", port); break; }
            catch (SocketException) { Thread.Sleep(50); }
        }
        return p;
    }

    static void MicrophoneHour()
    {
        var s = new AvatarStream();
        s.Begin("mic", 0, 60, false);
        var frame = new float[63];
        var batch = new byte[6 * 63 * 4];
        GC.Collect();
        long before = GC.GetTotalMemory(true);
        var watch = Stopwatch.StartNew();
        for (long n = 0; n < 60L * 3600; n += 6)
        {
            s.AddFrames("mic", n, 6, batch);
            s.SetExternalPlayhead("mic", n / 60.0);
            s.SampleFrame(frame, 0.1);
        }
        long after = GC.GetTotalMemory(true);
        Console.WriteLine("| An hour of microphone frames (216,000, fed in {0:F2} s) | frames held at the end: {1} | managed memory {2:+0.0;-0.0} KiB (was ~71 MiB an hour) |",
                          watch.Elapsed.TotalSeconds, s.HeldFrames, (after - before) / 1024.0);
    }

    static int FreePort()
    {
        var l = new TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        int port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }
}
