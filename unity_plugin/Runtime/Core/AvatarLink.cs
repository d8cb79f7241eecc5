// AvatarLink: one avatar session on an avbridge server, engine-independent.
//
//   var link = new AvatarLink("tcp://127.0.0.1:5570");
//   link.Connect();                 // connect, hello, open (throws with a clear message)
//   link.Say("Hello there.");
//   // audio thread:  link.Stream.ReadAudio(buffer, 48000, 2)
//   // main thread:   link.Stream.SampleFrame(frame, dt); link.Poll(events)
//
// The socket's thread decodes every message: stream data goes straight into the jitter buffer
// (so audio keeps flowing while the main thread is busy); replies, errors and connection changes
// are queued for Poll on the main thread. After a reconnect (say, the server restarted) the link
// says hello and opens a new session by itself and reports it.
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
        public ZmtpOptions Zmtp = new ZmtpOptions();
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

    public sealed class AvatarLink : IDisposable
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
            Ping();
        }

        // -- requests (any thread) ----------------------------------------------------------------
        public long Say(string text, string emotion = null, double? intensity = null, string utterance = null)
        {
            var m = SessionMessage("say").With("text", text);
            if (emotion != null) m.With("emotion", emotion);
            if (intensity.HasValue) m.With("intensity", intensity.Value);
            if (utterance != null) m.With("utterance", utterance);
            return Send(m);
        }

        /// <summary>Speech the engine plays itself: send it in pieces (offset = index of the piece's
        /// first sample); frames come back for it. Report playback with Stream.SetExternalPlayhead.</summary>
        public long SpeakAudio(string utterance, short[] pcm, int sampleRate, long offset, bool final)
        {
            var bytes = new byte[pcm.Length * 2];
            for (int i = 0; i < pcm.Length; i++) { bytes[2 * i] = (byte)pcm[i]; bytes[2 * i + 1] = (byte)(pcm[i] >> 8); }
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
            return Send(SessionMessage("set").With("emotion", emotion).With("intensity", intensity));
        }

        /// <summary>Where eye contact is, in radians from straight ahead (yaw > 0: the avatar's
        /// left; pitch > 0: down), e.g. toward the player.</summary>
        public long SetGazeTarget(double yaw, double pitch)
        {
            return Send(SessionMessage("set").With("gaze_yaw", yaw).With("gaze_pitch", pitch));
        }

        /// <summary>While your dialogue system works out a reply: the avatar looks away, up and
        /// aside, as people do while they think. The next Say clears it.</summary>
        public long SetThinking(bool thinking)
        {
            return Send(SessionMessage("set").With("thinking", thinking));
        }

        public long SetParameters(double? expressiveness = null, double? articulation = null, double? blinkRate = null)
        {
            var m = SessionMessage("set");
            if (expressiveness.HasValue) m.With("expressiveness", expressiveness.Value);
            if (articulation.HasValue) m.With("articulation", articulation.Value);
            if (blinkRate.HasValue) m.With("blink_rate", blinkRate.Value);
            return Send(m);
        }

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
            long seq = Send(message);
            var deadline = DateTime.UtcNow.AddMilliseconds(Options.RequestTimeoutMs);
            lock (_lock)
            {
                Message reply;
                while (!_replies.TryGetValue(seq, out reply))
                {
                    int wait = (int)(deadline - DateTime.UtcNow).TotalMilliseconds;
                    if (wait <= 0)
                        throw new TimeoutException("no reply to " + message.Type + " from " + Endpoint + " in " + Options.RequestTimeoutMs + " ms");
                    Monitor.Wait(_lock, wait);
                }
                _replies.Remove(seq);
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

        public void Dispose()
        {
            ZmtpSocket socket;
            lock (_lock)
            {
                _disposed = true;
                socket = _socket;
            }
            if (socket != null)
            {
                try { if (SessionId != null && socket.State == ZmtpState.Connected) Send(SessionMessage("close")); }
                catch (AvatarLinkException) { }
                socket.Dispose();
            }
            Stream.Clear();
        }

        // -- the socket's thread ------------------------------------------------------------------
        void OnFrames(List<byte[]> frames)
        {
            Message m;
            try
            {
                m = Codec.Decode(frames, int.MaxValue, Schema.Server);
            }
            catch (ProtocolException ex)
            {
                Enqueue(new LinkEvent { Kind = LinkEventKind.Error, Code = ex.Code, Text = "from server: " + ex.Message });
                return;
            }
            var observer = MessageReceived;
            if (observer != null) observer(m);
            switch (m.Type)
            {
                case "stream":
                    lock (_lock) _utteranceStarts[m.Str("utterance")] = m.Double("time");
                    if (m.Has("idle") && m.Bool("idle"))
                    {
                        lock (_lock) _idleUtterances.Add(m.Str("utterance"));
                        Stream.BeginIdle(m.Str("utterance"), m.Double("fps"), m.Double("time"));
                    }
                    else
                        Stream.Begin(m.Str("utterance"), (int)m.Long("sample_rate"), m.Double("fps"), m.Bool("audio"));
                    break;
                case "audio":
                    Stream.AddAudio(m.Str("utterance"), m.Long("offset"), m.Bulk[0]);
                    break;
                case "frames":
                    Stream.AddFrames(m.Str("utterance"), m.Long("first"), (int)m.Long("count"), m.Bulk[0]);
                    break;
                case "event":
                    {
                        double start;
                        lock (_lock) _utteranceStarts.TryGetValue(m.Str("utterance"), out start);
                        string text = m.StrOr("text", m.StrOr("phoneme", null));
                        Stream.AddEvent(m.Str("utterance"), m.Str("name"), text, m.Double("time") - start);
                        break;
                    }
                case "end":
                    Stream.End(m.Str("utterance"), m.Str("status"), m.Long("frames"), m.Long("samples"));
                    {
                        bool idle;
                        lock (_lock) idle = _idleUtterances.Remove(m.Str("utterance"));
                        if (!idle)   // the end of an idle stream is no line's end
                            Enqueue(new LinkEvent { Kind = LinkEventKind.StreamEnded, Utterance = m.Str("utterance"), Text = m.Str("status"), Message = m });
                    }
                    break;
                default:
                    OnReply(m);
                    break;
            }
        }

        void OnReply(Message m)
        {
            long re = m.Has("re") ? m.Long("re") : -1;
            if (m.Type == "pong")
            {
                double sent;
                lock (_lock) { if (_pingsSent.TryGetValue(re, out sent)) _pingsSent.Remove(re); else sent = -1; }
                if (sent >= 0 && m.Has("session_time")) lock (_lock) Clock.Add(sent, LocalTime, m.Double("session_time"));
            }
            if (re == Interlocked.Read(ref _reopenHello) && m.Type == "welcome")
            {
                var open = Open();
                Interlocked.Exchange(ref _reopenOpen, Reserve(open));
                Transmit(open);
                return;
            }
            if (re == Interlocked.Read(ref _reopenOpen) && m.Type == "opened")
            {
                SessionId = m.Str("session");
                Enqueue(new LinkEvent { Kind = LinkEventKind.Reconnected, Text = "new session " + SessionId, Message = m });
                return;
            }
            lock (_lock)
            {
                _replies[re] = m;
                Monitor.PulseAll(_lock);
                if (m.Type == "error")
                    _events.Enqueue(new LinkEvent { Kind = LinkEventKind.Error, Code = m.Str("code"), Text = m.Str("message"), Re = re, Message = m });
                else if (m.Type == "ok" && m.Has("utterance"))
                    _events.Enqueue(new LinkEvent { Kind = LinkEventKind.UtteranceQueued, Utterance = m.Str("utterance"), Re = re, Message = m });
                else
                    _events.Enqueue(new LinkEvent { Kind = LinkEventKind.Reply, Re = re, Message = m });
                // Replies nobody waits for are dropped after a while so the table cannot grow.
                if (_replies.Count > 256) _replies.Clear();
            }
        }

        void OnStateChanged(ZmtpState state, string error)
        {
            if (state == ZmtpState.Disconnected)
            {
                Stream.InterruptNow();
                Enqueue(new LinkEvent { Kind = LinkEventKind.Disconnected, Text = error });
            }
            else if (state == ZmtpState.Connected)
            {
                Enqueue(new LinkEvent { Kind = LinkEventKind.Connected });
                if (_everConnected)
                {
                    // The server forgot us (or restarted): greet it again and open a new session.
                    SessionId = null;
                    ThreadPool.QueueUserWorkItem(_ =>
                    {
                        // The seq is recorded before sending: the welcome may come back at once.
                        var hello = Hello();
                        Interlocked.Exchange(ref _reopenHello, Reserve(hello));
                        try { Transmit(hello); }
                        catch (AvatarLinkException ex) { Enqueue(new LinkEvent { Kind = LinkEventKind.Error, Code = ex.Code, Text = ex.Message }); }
                    });
                }
            }
        }

        void Enqueue(LinkEvent e)
        {
            lock (_lock) _events.Enqueue(e);
        }

        Message Hello()
        {
            return new Message("hello").With("versions", new List<object> { (long)Schema.Version }).With("client", Options.ClientName);
        }

        Message Open()
        {
            var m = new Message("open").With("fps", Options.Fps).With("realtime", Options.Realtime);
            if (Options.Voice != null) m.With("voice", Options.Voice);
            return m;
        }

        Message SessionMessage(string type)
        {
            if (SessionId == null) throw new AvatarLinkException("not_connected", "no session open on " + Endpoint + " (call Connect, or wait for the reconnect)");
            return new Message(type).With("session", SessionId);
        }
    }
}
