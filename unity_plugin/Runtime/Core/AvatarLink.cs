// AvatarLink: one avatar session on an avbridge server, engine-independent.
//
//   var link = new AvatarLink("tcp://127.0.0.1:5570");
//   link.Connect();                 // connect, hello, open (throws with a clear message)
//   link.Say("Hello there.");
//   // audio thread:  link.Stream.ReadAudio(buffer, 48000, 2)
//   // main thread:   link.Stream.SampleFrame(frame, dt); link.Poll(events)
//
// The socket's thread decodes every message: stream data goes straight into the jitter buffer
// (so audio keeps flowing while the main thread is busy), `audio` and `frames` without garbage
// (StreamHeader, FramePool); replies, errors and connection changes are queued for Poll on the
// main thread. After a reconnect (a server restart, a headset waking up) the link says hello, opens
// a new session, syncs the new session's clock and sets again what was set (emotion, gaze,
// parameters, outputs), then reports Reconnected.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using Avbridge.Core.Protocol;
using Avbridge.Core.Streaming;
using Avbridge.Core.Zmtp;

namespace Avbridge.Core
{
    public sealed class AvatarLinkOptions
    {
        public string ClientName = "avbridge-csharp";
        public double Fps = 60;
        public string Voice;              // null: the server's default
        public bool Realtime = true;
        public int ConnectTimeoutMs = 5000;
        public int RequestTimeoutMs = 5000;
        /// <summary>Pings sent after connecting, for a clock estimate from the fastest round trip.</summary>
        public int SyncPings = 4;
        public ZmtpOptions Zmtp = new ZmtpOptions();
        /// <summary>Time constant of the face's ease to neutral with no link.</summary>
        public double EaseSeconds = 0.12;
    }

    public enum LinkEventKind { Connected, Disconnected, Reconnected, Reply, Error, UtteranceQueued, StreamEnded }

    public struct LinkEvent
    {
        public LinkEventKind Kind;
        public string Code;         // errors: the protocol error code
        public string Text;         // errors: the sentence; disconnects: why; StreamEnded: status
        public string Utterance;
        public long Re;             // the request this answers
        public Message Message;     // the reply or stream message behind the event
    }

    public sealed class AvatarLinkException : Exception
    {
        public readonly string Code;
        public AvatarLinkException(string code, string message) : base(message) { Code = code; }
    }

    public sealed partial class AvatarLink : IDisposable
    {
        public readonly string Endpoint;
        public readonly AvatarLinkOptions Options;
        public readonly AvatarStream Stream = new AvatarStream();
        public readonly ClockSync Clock = new ClockSync();
        public Message Welcome { get; private set; }
        public string SessionId { get; private set; }
        public int SampleRate { get; private set; }

        /// <summary>Optional observer of every decoded message, on the socket's thread (recorders,
        /// benchmarks). Keep it short: it holds up the stream.</summary>
        public Action<Message> MessageReceived;

        readonly object _lock = new object();
        readonly Queue<LinkEvent> _events = new Queue<LinkEvent>();
        readonly Dictionary<long, Message> _replies = new Dictionary<long, Message>();
        readonly HashSet<long> _awaited = new HashSet<long>();       // seqs a Request is waiting on
        readonly Dictionary<string, object> _settings = new Dictionary<string, object>();   // every `set` field, last value
        readonly FramePool _pool = new FramePool();
        readonly StreamHeader _streamHeader = new StreamHeader();
        readonly Dictionary<string, double> _utteranceStarts = new Dictionary<string, double>();
        readonly HashSet<string> _idleUtterances = new HashSet<string>();
        readonly Stopwatch _clock = Stopwatch.StartNew();
        readonly Dictionary<long, double> _pingsSent = new Dictionary<long, double>();
        ZmtpSocket _socket;
        bool _disposed;                 // under _lock: Dispose may run while Connect is still working
        long _seq;
        bool _everConnected;
        long _reopenHello = -1, _reopenOpen = -1;   // seqs of the hello/open sent after a reconnect

        public AvatarLink(string endpoint, AvatarLinkOptions options = null)
        {
            string host; int port;
            ZmtpSocket.ParseEndpoint(endpoint, out host, out port);   // a bad endpoint fails here, clearly
            Endpoint = endpoint;
            Options = options ?? new AvatarLinkOptions();
        }

        public bool IsConnected { get { return _socket != null && _socket.State == ZmtpState.Connected && SessionId != null; } }

        /// <summary>Seconds on this link's local clock (used for clock sync).</summary>
        public double LocalTime { get { return _clock.Elapsed.TotalSeconds; } }

        /// <summary>The session clock now, from ping/pong clock sync; NaN before the first pong.</summary>
        public double SessionTime
        {
            get { lock (_lock) return Clock.HasEstimate ? Clock.ToSession(LocalTime) : double.NaN; }
        }

        /// <summary>The frame to show now (main thread): speech at the audio playhead, the idle
        /// stream at the session time between lines.</summary>
        public bool SampleFrame(float[] frame, double deltaTime)
        {
            return Stream.SampleFrame(frame, deltaTime, SessionTime);
        }

        /// <summary>Connect, say hello and open a session; blocks up to the connect and request
        /// timeouts, so call it off the main thread in a game (AvbridgeClient does). Dispose from
        /// another thread makes it give up at once.</summary>
        public void Connect()
        {
            var socket = new ZmtpSocket(ZmtpSocketType.Dealer, Endpoint, Options.Zmtp);
            lock (_lock)
            {
                if (_disposed || _socket != null)
                {
                    socket.Dispose();
                    if (_disposed) throw new ObjectDisposedException("AvatarLink");
                    throw new InvalidOperationException("already connected");
                }
                _socket = socket;
            }
            _socket.OnMessage = OnFrames;
            _socket.Pool = _pool;
            _socket.StateChanged += OnStateChanged;
            try
            {
                _socket.WaitConnected(Options.ConnectTimeoutMs);
                Welcome = Request(Hello());
                var opened = Request(Open());
                SessionId = opened.Str("session");
                SampleRate = (int)opened.Long("sample_rate");
            }
            catch (Exception)
            {
                socket.Dispose();   // or it would go on retrying in the background
                lock (_lock) _socket = null;
                throw;
            }
            _everConnected = true;
            for (int i = 0; i < Math.Max(1, Options.SyncPings); i++) Ping();
        }

        /// <summary>A fresh utterance id for a line (SPEC.md 6.1 lets the client choose it).</summary>
        public static string NewUtteranceId()
        {
            return "u" + Guid.NewGuid().ToString("N").Substring(0, 12);
        }

        /// <summary>The socket's read thread's allocations so far (benchmarks), or -1.</summary>
        public long NetworkAllocatedBytes { get { var s = _socket; return s != null ? s.ReadThreadAllocatedBytes : -1; } }

        // -- requests (any thread) ----------------------------------------------------------------
        public long Say(string text, string emotion = null, double? intensity = null, string utterance = null)
        {
            var m = SessionMessage("say").With("text", text);
            lock (_lock) _settings.Remove("thinking");   // the server clears it with the line
            if (emotion != null) m.With("emotion", emotion);
            if (intensity.HasValue) m.With("intensity", intensity.Value);
            if (utterance != null) m.With("utterance", utterance);
            return Send(m);
        }

        /// <summary>Speech the engine plays itself: send it in pieces (offset = index of the piece's
        /// first sample); frames come back for it. Report playback with Stream.SetExternalPlayhead.</summary>
        public long SpeakAudio(string utterance, short[] pcm, int sampleRate, long offset, bool final)
        {
            return SpeakAudio(utterance, pcm, pcm.Length, sampleRate, offset, final);
        }

        /// <summary>As above, with the first `count` samples of `pcm`.</summary>
        public long SpeakAudio(string utterance, short[] pcm, int count, int sampleRate, long offset, bool final)
        {
            var bytes = new byte[count * 2];
            for (int i = 0; i < count; i++) { bytes[2 * i] = (byte)pcm[i]; bytes[2 * i + 1] = (byte)(pcm[i] >> 8); }
            var m = SessionMessage("speak_audio").With("utterance", utterance).With("sample_rate", (long)sampleRate)
                .With("offset", offset).With("final", final);
            m.Bulk.Add(bytes);
            return Send(m);
        }

        /// <summary>Stop speaking now: playback stops at once here, and the server cuts the stream.</summary>
        public long Interrupt()
        {
            Stream.InterruptNow();
            return Send(SessionMessage("interrupt"));
        }

        public long SetEmotion(string emotion, double intensity = 0.7)
        {
            return Set(SessionMessage("set").With("emotion", emotion).With("intensity", intensity));
        }

        /// <summary>Where eye contact is, in radians from straight ahead (yaw > 0: the avatar's
        /// left; pitch > 0: down), e.g. toward the player.</summary>
        public long SetGazeTarget(double yaw, double pitch)
        {
            return Set(SessionMessage("set").With("gaze_yaw", yaw).With("gaze_pitch", pitch));
        }

        /// <summary>While your dialogue system works out a reply: the avatar looks away, up and
        /// aside, as people do while they think. The next Say clears it.</summary>
        public long SetThinking(bool thinking)
        {
            return Set(SessionMessage("set").With("thinking", thinking));
        }

        public long SetParameters(double? expressiveness = null, double? articulation = null, double? blinkRate = null)
        {
            var m = SessionMessage("set");
            if (expressiveness.HasValue) m.With("expressiveness", expressiveness.Value);
            if (articulation.HasValue) m.With("articulation", articulation.Value);
            if (blinkRate.HasValue) m.With("blink_rate", blinkRate.Value);
            return Set(m);
        }

        /// <summary>Send a `set` and remember its fields, to set them again on a new session after
        /// a reconnect.</summary>
        public long Set(Message set)
        {
            long seq = Send(set);
            lock (_lock)
                foreach (var field in set.Fields) if (field.Key != "session") _settings[field.Key] = field.Value;
            return seq;
        }

        /// <summary>What a new session is told after a reconnect (the last value of each field set).</summary>
        public Dictionary<string, object> RememberedSettings { get { lock (_lock) return new Dictionary<string, object>(_settings); } }

        public long Ping()
        {
            double sent = LocalTime;
            var m = new Message("ping").With("client_time", sent);
            if (SessionId != null) m.With("session", SessionId);
            long seq = Reserve(m);
            lock (_lock) _pingsSent[seq] = sent;   // before sending: the pong can come back at once
            Transmit(m);
            return seq;
        }

        /// <summary>Send and wait for the reply; an error reply throws AvatarLinkException.</summary>
        public Message Request(Message message)
        {
            long seq = Reserve(message);
            lock (_lock) _awaited.Add(seq);   // before sending: the reply can come back at once
            var deadline = DateTime.UtcNow.AddMilliseconds(Options.RequestTimeoutMs);
            try
            {
                Transmit(message);
            }
            catch (Exception)
            {
                lock (_lock) _awaited.Remove(seq);
                throw;
            }
            lock (_lock)
            {
                Message reply;
                while (!_replies.TryGetValue(seq, out reply))
                {
                    int wait = (int)(deadline - DateTime.UtcNow).TotalMilliseconds;
                    if (wait <= 0 || _disposed)
                    {
                        _awaited.Remove(seq);
                        if (_disposed) throw new ObjectDisposedException("AvatarLink");
                        throw new TimeoutException("no reply to " + message.Type + " from " + Endpoint + " in " + Options.RequestTimeoutMs + " ms");
                    }
                    Monitor.Wait(_lock, wait);
                }
                _replies.Remove(seq);
                _awaited.Remove(seq);
                if (reply.Type == "error") throw new AvatarLinkException(reply.Str("code"), reply.Str("message"));
                return reply;
            }
        }

        public long Send(Message message)
        {
            Reserve(message);
            Transmit(message);
            return message.Seq;
        }

        /// <summary>Give `message` its sequence number without sending it, so a caller can note
        /// what the reply will answer before the reply can arrive.</summary>
        long Reserve(Message message)
        {
            message.Seq = Interlocked.Increment(ref _seq);
            return message.Seq;
        }

        void Transmit(Message message)
        {
            if (_socket == null) throw new InvalidOperationException("call Connect first");
            if (!_socket.TrySend(Codec.Encode(message)))
                throw new AvatarLinkException("not_connected", "not connected to " + Endpoint
                                              + (_socket.LastError != null ? " (" + _socket.LastError + ")" : ""));
        }

        /// <summary>Main thread: take the queued replies, errors and connection changes.</summary>
        public void Poll(List<LinkEvent> into)
        {
            lock (_lock)
            {
                while (_events.Count > 0) into.Add(_events.Dequeue());
            }
        }

        /// <summary>Close the session and the socket. Never waits for a server that is down: a
        /// connected link gives its `close` up to 20 ms to leave; otherwise nothing is waited for.</summary>
        public void Dispose()
        {
            ZmtpSocket socket;
            lock (_lock)
            {
                _disposed = true;
                socket = _socket;
                Monitor.PulseAll(_lock);   // a Request waiting on another thread gives up
            }
            if (socket != null)
            {
                try
                {
                    if (SessionId != null && socket.State == ZmtpState.Connected)
                    {
                        Send(SessionMessage("close"));
                        socket.Flush(20);
                    }
                }
                catch (AvatarLinkException) { }
                socket.Dispose();
            }
            Stream.Clear();
        }

    }
}
