using System;
using System.Diagnostics;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using NUnit.Framework;

namespace Avbridge.Tests
{
    /// <summary>A real `avbridge serve` process on free loopback ports. Needs AVBRIDGE_PYTHON (a
    /// Python with avbridge installed); without it the integration tests are ignored, so the
    /// edit-mode suite still runs in a Unity project with no Python at hand.</summary>
    public sealed class LiveServer : IDisposable
    {
        public readonly int Port;
        public readonly int MirrorPort;
        Process _process;

        public string Endpoint { get { return "tcp://127.0.0.1:" + Port; } }
        public string MirrorEndpoint { get { return "tcp://127.0.0.1:" + MirrorPort; } }

        readonly string _extraArgs;

        /// <summary>`extraArgs`: more `avbridge serve` options (CURVE keys, say).</summary>
        public LiveServer(int port = 0, string extraArgs = "")
        {
            _extraArgs = extraArgs;
            Port = port != 0 ? port : FreePort();
            MirrorPort = FreePort();
            Start();
        }

        static LiveServer _shared;

        public static LiveServer Shared()
        {
            if (_shared == null)
            {
                _shared = new LiveServer();
                AppDomain.CurrentDomain.DomainUnload += (s, e) => _shared.Dispose();
                AppDomain.CurrentDomain.ProcessExit += (s, e) => _shared.Dispose();
            }
            return _shared;
        }

        public static int FreePort()
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
            return port;
        }

        public void Start()
        {
            string python = Environment.GetEnvironmentVariable("AVBRIDGE_PYTHON");
            if (string.IsNullOrEmpty(python) || !File.Exists(python))
                Assert.Ignore("set AVBRIDGE_PYTHON to a Python with avbridge installed to run the live-server tests");
            var info = new ProcessStartInfo(python, "-m avbridge serve --voice espeak --log-level warning " + _extraArgs + " --bind "
                                                    + Endpoint + " --mirror " + MirrorEndpoint)
            {
                UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true,
            };
            info.EnvironmentVariables["PYTHONPATH"] = Path.Combine(TestPaths.Repository(), "backend");
            _process = Process.Start(info);
            _process.ErrorDataReceived += (s, e) => { };
            _process.BeginErrorReadLine();
            _process.BeginOutputReadLine();
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (true)
            {
                try
                {
                    using (var probe = new TcpClient()) { probe.Connect(IPAddress.Loopback, Port); }
                    Thread.Sleep(200);   // the ROUTER is bound; let the voice finish loading
                    return;
                }
                catch (SocketException)
                {
                    if (_process.HasExited) throw new InvalidOperationException("avbridge serve exited with " + _process.ExitCode);
                    if (DateTime.UtcNow > deadline) throw new TimeoutException("avbridge serve did not start in 30 s");
                    Thread.Sleep(100);
                }
            }
        }

        public void Stop()
        {
            if (_process == null) return;
            try
            {
                if (!_process.HasExited) { _process.Kill(); _process.WaitForExit(5000); }
            }
            catch (InvalidOperationException) { }
            _process.Dispose();
            _process = null;
        }

        public void Dispose() { Stop(); }

        /// <summary>Run `python -m avbridge ARGS` to its end (e.g. `keys`); the Python must exist
        /// (the test is ignored otherwise, as the live-server tests are).</summary>
        public static void RunAvbridge(string args)
        {
            string python = Environment.GetEnvironmentVariable("AVBRIDGE_PYTHON");
            if (string.IsNullOrEmpty(python) || !File.Exists(python))
                Assert.Ignore("set AVBRIDGE_PYTHON to a Python with avbridge installed to run the live-server tests");
            var info = new ProcessStartInfo(python, "-m avbridge " + args) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            info.EnvironmentVariables["PYTHONPATH"] = Path.Combine(TestPaths.Repository(), "backend");
            using (var process = Process.Start(info))
            {
                process.StandardOutput.ReadToEnd();
                process.WaitForExit(60000);
                if (process.ExitCode != 0) throw new InvalidOperationException("avbridge " + args + " failed: " + process.StandardError.ReadToEnd());
            }
        }
    }
}
