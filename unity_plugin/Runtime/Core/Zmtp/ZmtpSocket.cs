// A ZMTP 3.1 client socket (DEALER or SUB) over TCP, talking to libzmq's ROUTER and XPUB.
//
// Hand-written on purpose: NetMQ cannot be restored here (no NuGet), and Unity users report the
// editor freezing on leaving play mode with it (zeromq/netmq #526, #631, #806). This needs only the
// client half of ZMTP with the NULL mechanism: greeting, READY with Socket-Type and Identity,
// frames, PING/PONG, subscriptions, reconnect.
//
// What libzmq does that shapes this code: it PINGs and drops peers that do not answer; a wrong
// socket type completes the handshake and is then closed silently (so we check the peer's
// Socket-Type ourselves and say so); it never reconnects for us; a duplicate Identity is dropped
// (so each connection makes a new one).
//
// Threads: one reads (and reconnects), one writes. A send only queues the message, so a stalled
// server or a full TCP window never blocks the game's main thread; the queue is bounded and a full
// one is an error, not a wait. Every wait (connect, backoff) ends at once on Dispose, so closing a
// socket whose server is down costs the main thread nothing (10 NPCs on a scene change).
using System;
using System.Collections.Generic;
using System.IO;
using System.Net.Sockets;
using System.Text;
using System.Threading;

namespace Avbridge.Core.Zmtp
{
    public enum ZmtpSocketType { Dealer, Sub }

    public enum ZmtpState { Connecting, Connected, Disconnected, Closed }

    public sealed class ZmtpOptions
    {
        public int HeartbeatIntervalMs = 1000;
        public int HeartbeatTimeoutMs = 5000;
        public int ConnectTimeoutMs = 2000;
        public int ReconnectMinMs = 100;
        public int ReconnectMaxMs = 5000;
        public long MaxFrameBytes = 64L * 1024 * 1024;
        public int MaxQueuedMessages = 100000;
        /// <summary>Bytes waiting to be written before TrySend refuses more (the server stopped reading).</summary>
        public int MaxQueuedSendBytes = 8 * 1024 * 1024;
        /// <summary>How long Dispose waits for the socket's threads, which end within a millisecond or
        /// two once woken; a cap, not a sleep.</summary>
        public int DisposeWaitMs = 200;
        /// <summary>CurveZMQ (RFC 26): the server's public key (32 bytes) and this client's pair
        /// (Curve.CurveKeyPair.Load of a `avbridge keys` certificate). Both null: the NULL mechanism.</summary>
        public byte[] CurveServerKey;
        public Curve.CurveKeyPair CurveClientKeys;
    }

    public sealed class ZmtpSocket : IDisposable
    {
        const byte FlagMore = ZmtpFrames.FlagMore, FlagLong = ZmtpFrames.FlagLong, FlagCommand = ZmtpFrames.FlagCommand;

        public readonly ZmtpSocketType Type;
        public readonly string Endpoint;
        readonly string _host;
        readonly int _port;
        readonly ZmtpOptions _options;
        readonly object _writeLock = new object();
        readonly Queue<List<byte[]>> _inbox = new Queue<List<byte[]>>();
        readonly List<byte[]> _subscriptions = new List<byte[]>();
        readonly Thread _thread;
        readonly ZmtpSendQueue _send;
        readonly ManualResetEvent _wake = new ManualResetEvent(false);     // set by Dispose: ends every wait
        readonly byte[] _header = new byte[9];                              // read buffer for frame headers
        volatile Stream _connectedStream;                                   // set once the handshake is done
        Curve.CurveSession _curve;                                          // this connection's, when CURVE
        readonly object _curveLock = new object();                          // boxing and queueing keep nonce order
        volatile bool _closing;
        volatile ZmtpState _state = ZmtpState.Connecting;
        TcpClient _tcp;
        Stream _stream;
        DateTime _handshakeDeadline = DateTime.MaxValue;   // a peer that never answers the greeting
        int _reconnects;

        /// <summary>Raised on the socket's own thread when the state changes; keep handlers short.</summary>
        public event Action<ZmtpState, string> StateChanged;

        /// <summary>Optional: called on the socket's own thread for each message instead of queueing it.
        /// The list is reused for the next message: keep the arrays, not the list.</summary>
        public Action<List<byte[]>> OnMessage;

        /// <summary>Optional: where frame bodies come from, so that a consumer that copies them out
        /// can hand them back (FramePool.Return) and the stream allocates nothing in steady state.</summary>
        public FramePool Pool;

        /// <summary>Bytes allocated on the socket's read thread so far, or -1 unless
        /// AllocationProbe is enabled (benchmarks).</summary>
        public long ReadThreadAllocatedBytes { get { return Interlocked.Read(ref _readAllocated); } }
        long _readAllocated = -1;

        public ZmtpState State { get { return _state; } }
        public string LastError { get; private set; }
        public int Reconnects { get { return _reconnects; } }

        public ZmtpSocket(ZmtpSocketType type, string endpoint, ZmtpOptions options = null)
        {
            Type = type;
            Endpoint = endpoint;
            _options = options ?? new ZmtpOptions();
            ParseEndpoint(endpoint, out _host, out _port);
            _thread = new Thread(Run) { IsBackground = true, Name = "avbridge-zmtp-" + type };
            _send = new ZmtpSendQueue("avbridge-zmtp-send-" + type, _options.MaxQueuedSendBytes, () => _connectedStream, Drop);
            _thread.Start();
        }

        /// <summary>tcp://host:port only; anything else is refused here with a clear message.</summary>
        public static void ParseEndpoint(string endpoint, out string host, out int port)
        {
            const string prefix = "tcp://";
            string hint = "endpoint must look like tcp://127.0.0.1:5570, not '" + endpoint + "'";
            if (endpoint == null || !endpoint.StartsWith(prefix)) throw new ArgumentException(hint);
            string rest = endpoint.Substring(prefix.Length);
            int colon = rest.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(rest.Substring(colon + 1), out port) || port <= 0 || port > 65535)
                throw new ArgumentException(hint);
            host = rest.Substring(0, colon).Trim('[', ']');
            if (host == "*" || host.Length == 0) throw new ArgumentException(hint);
        }

        /// <summary>Block until connected, or throw TimeoutException with the last connection error.</summary>
        public void WaitConnected(int timeoutMs)
        {
            var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
            while (_state != ZmtpState.Connected)
            {
                if (_state == ZmtpState.Closed) throw new ObjectDisposedException("ZmtpSocket");
                if (DateTime.UtcNow > deadline)
                    throw new TimeoutException("could not connect to " + Endpoint + " in " + timeoutMs + " ms"
                                               + (LastError != null ? ": " + LastError : ""));
                if (_wake.WaitOne(5)) throw new ObjectDisposedException("ZmtpSocket");
            }
        }

        public void Subscribe(byte[] prefix)
        {
            lock (_subscriptions) _subscriptions.Add(prefix);
            if (_state == ZmtpState.Connected) SendSubscription(prefix);
        }

        /// <summary>Queue one multipart message for the writer thread; false when not connected
        /// (nothing is queued across a reconnect: the server forgets a client's state when the
        /// connection drops, so stale requests would mislead) or when the send queue is full.</summary>
        public bool TrySend(IList<byte[]> frames)
        {
            if (_state != ZmtpState.Connected) return false;
            long total = 0;
            for (int i = 0; i < frames.Count; i++) total += (frames[i].LongLength > 255 ? 9 : 2) + frames[i].LongLength;
            if (total > _options.MaxQueuedSendBytes)
            {
                LastError = "a message of " + total + " bytes is over the " + _options.MaxQueuedSendBytes + "-byte send queue";
                return false;
            }
            if (_curve != null) return SendBoxed(frames, false);
            // One array per message, so the writer makes one write call for it (not one per header byte).
            var wire = new byte[total];
            int pos = 0;
            for (int i = 0; i < frames.Count; i++) pos = ZmtpFrames.PutFrame(wire, pos, frames[i], i < frames.Count - 1 ? FlagMore : (byte)0);
            return Enqueue(wire);
        }

        /// <summary>Each frame boxed into a MESSAGE (CurveZMQ); nonces must reach the server
        /// in order, so boxing and queueing happen under one lock.</summary>
        bool SendBoxed(IList<byte[]> frames, bool command)
        {
            var curve = _curve;
            lock (_curveLock)
            {
                var boxed = new List<byte[]>(frames.Count);
                long total = 0;
                for (int i = 0; i < frames.Count; i++)
                {
                    byte flags = (byte)((i < frames.Count - 1 ? 1 : 0) | (command ? 2 : 0));
                    var body = curve.Encode(frames[i], flags);
                    boxed.Add(body);
                    total += (body.LongLength > 255 ? 9 : 2) + body.LongLength;
                }
                var wire = new byte[total];
                int pos = 0;
                // As libzmq does: a MESSAGE travels as a plain final frame; its own first byte carries
                // the more and command flags (inside the box, where they cannot be altered).
                foreach (var body in boxed) pos = ZmtpFrames.PutFrame(wire, pos, body, 0);
                return Enqueue(wire);
            }
        }

        bool Enqueue(byte[] wire)
        {
            string refused = _send.Add(wire);
            if (refused != null) LastError = refused + ": " + Endpoint + " is not reading";
            return refused == null;
        }

        /// <summary>Wait up to `timeoutMs` for the queued messages to be written (a last `close`
        /// before Dispose); false if they were not.</summary>
        public bool Flush(int timeoutMs)
        {
            var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
            while (QueuedSendBytes > 0)
            {
                if (_state != ZmtpState.Connected || DateTime.UtcNow > deadline) return false;
                Thread.Sleep(1);
            }
            return true;
        }

        /// <summary>Bytes queued and not yet written.</summary>
        public int QueuedSendBytes { get { return _send.Bytes; } }

        /// <summary>The next received message, waiting up to timeoutMs (0: do not wait).</summary>
        public bool TryReceive(out List<byte[]> message, int timeoutMs)
        {
            lock (_inbox)
            {
                if (_inbox.Count == 0 && timeoutMs > 0) Monitor.Wait(_inbox, timeoutMs);
                if (_inbox.Count > 0) { message = _inbox.Dequeue(); return true; }
            }
            message = null;
            return false;
        }

        public void Dispose()
        {
            _closing = true;
            _wake.Set();
            CloseTransport();
            if (Thread.CurrentThread != _thread) _thread.Join(_options.DisposeWaitMs);
            _send.Close(_options.DisposeWaitMs);
            SetState(ZmtpState.Closed, null);
        }

        // -- the connection thread ----------------------------------------------------------------
        void Run()
        {
            int backoff = _options.ReconnectMinMs;
            AllocationProbe.Start(ref _readAllocated);
            while (!_closing)
            {
                // Failed retries after a drop stay Disconnected: one Disconnected event per outage.
                if (_state != ZmtpState.Disconnected) SetState(ZmtpState.Connecting, null);
                bool wasConnected = false;
                try
                {
                    Open();
                    backoff = _options.ReconnectMinMs;
                    wasConnected = true;
                    _connectedStream = _stream;
                    _send.Wake();
                    SetState(ZmtpState.Connected, null);
                    lock (_subscriptions) foreach (var s in _subscriptions) SendSubscription(s);
                    ReadLoop();
                }
                catch (Exception ex)
                {
                    if (_closing) break;
                    LastError = Describe(ex);
                }
                _connectedStream = null;
                CloseTransport();
                _send.Clear();
                if (_closing) break;
                if (wasConnected || _state == ZmtpState.Connected) SetState(ZmtpState.Disconnected, LastError);
                Interlocked.Increment(ref _reconnects);
                if (_wake.WaitOne(backoff)) break;   // Dispose ends the backoff at once
                backoff = Math.Min(backoff * 2, _options.ReconnectMaxMs);
            }
        }

        void Open()
        {
            var tcp = new TcpClient { NoDelay = true };
            var connecting = tcp.BeginConnect(_host, _port, null, null);
            int which = WaitHandle.WaitAny(new[] { connecting.AsyncWaitHandle, _wake }, _options.ConnectTimeoutMs);
            if (which != 0)
            {
                tcp.Close();
                if (_closing) throw new IOException("closing");
                throw new TimeoutException("no answer from " + Endpoint + " in " + _options.ConnectTimeoutMs + " ms");
            }
            tcp.EndConnect(connecting);
            tcp.ReceiveTimeout = Math.Max(50, _options.HeartbeatIntervalMs / 2);
            // Writes may block only the writer thread, and not for ever: a peer that stops reading
            // for this long is as dead as one that stops answering heartbeats.
            tcp.SendTimeout = _options.HeartbeatTimeoutMs;
            _tcp = tcp;
            if (_closing) { tcp.Close(); throw new IOException("closing"); }
            _stream = tcp.GetStream();
            _handshakeDeadline = DateTime.UtcNow.AddMilliseconds(_options.ConnectTimeoutMs);
            Handshake();
            _handshakeDeadline = DateTime.MaxValue;
        }

        void Handshake()
        {
            var greeting = new byte[64];
            greeting[0] = 0xff;
            greeting[9] = 0x7f;
            greeting[10] = 3;
            greeting[11] = 1;
            bool curve = _options.CurveServerKey != null;
            string ours = curve ? "CURVE" : "NULL";
            Encoding.ASCII.GetBytes(ours, 0, ours.Length, greeting, 12);
            _curve = null;
            lock (_writeLock) { _stream.Write(greeting, 0, 64); _stream.Flush(); }
            var peer = ReadExactly(64, true);
            if (peer[0] != 0xff || peer[9] != 0x7f)
                throw new IOException(Endpoint + " is not a ZeroMQ peer (bad greeting)");
            if (peer[10] < 3)
                throw new IOException(Endpoint + " speaks ZMTP " + peer[10] + "." + peer[11] + "; 3.0 or later is needed");
            string mechanism = Encoding.ASCII.GetString(peer, 12, 20).TrimEnd('\0');
            if (mechanism != ours)
                throw new IOException(Endpoint + " uses the " + mechanism + " security mechanism and this client " + ours
                                      + (curve ? ": the server is not set up for CURVE" : ": give this client the server's public key and a key pair (ZmtpOptions.CurveServerKey)"));
            var ready = new MemoryStream();
            ZmtpFrames.WriteCommandName(ready, "READY");
            ZmtpFrames.WriteProperty(ready, "Socket-Type", Encoding.ASCII.GetBytes(Type == ZmtpSocketType.Dealer ? "DEALER" : "SUB"));
            if (Type == ZmtpSocketType.Dealer)
            {
                // A fresh identity per connection: libzmq drops a connection whose identity is in use.
                var identity = new byte[9];
                identity[0] = (byte)'c';
                Buffer.BlockCopy(Guid.NewGuid().ToByteArray(), 0, identity, 1, 8);
                ZmtpFrames.WriteProperty(ready, "Identity", identity);
            }
            var readyBody = ready.ToArray();
            byte flags;
            byte[] body;
            if (curve)
            {
                var session = new Curve.CurveSession(_options.CurveServerKey, _options.CurveClientKeys);
                WriteCommand(session.Hello());
                var welcome = ReadFrame(out flags, true);
                if (ZmtpFrames.CommandName(welcome) == "ERROR")
                    throw new IOException(Endpoint + " refused the CURVE handshake: " + Encoding.UTF8.GetString(welcome, 7, Math.Max(0, welcome.Length - 7)));
                // The metadata INITIATE carries is READY's properties, without the command name.
                var metadata = new byte[readyBody.Length - 6];
                Buffer.BlockCopy(readyBody, 6, metadata, 0, metadata.Length);
                try
                {
                    WriteCommand(session.Initiate(welcome, metadata));
                    var answer = ReadFrame(out flags, true);
                    var serverMetadata = session.Ready(answer);
                    body = new byte[6 + serverMetadata.Length];
                    body[0] = 5;
                    Encoding.ASCII.GetBytes("READY", 0, 5, body, 1);
                    Buffer.BlockCopy(serverMetadata, 0, body, 6, serverMetadata.Length);
                    flags = FlagCommand;
                }
                catch (Curve.CurveException ex)
                {
                    throw new IOException(Endpoint + ": " + ex.Message);
                }
                _curve = session;
            }
            else
            {
                WriteCommand(readyBody);
                body = ReadFrame(out flags, true);
            }
            if ((flags & FlagCommand) == 0) throw new IOException(Endpoint + " sent data before its READY");
            string name = ZmtpFrames.CommandName(body);
            if (name == "ERROR")
                throw new IOException(Endpoint + " refused the connection: " + Encoding.UTF8.GetString(body, 7, Math.Max(0, body.Length - 7)));
            if (name != "READY") throw new IOException(Endpoint + " sent " + name + " instead of READY");
            var properties = ZmtpFrames.ReadProperties(body, 1 + name.Length);
            byte[] socketType;
            string peerType = properties.TryGetValue("socket-type", out socketType) ? Encoding.ASCII.GetString(socketType) : "(none)";
            string expected = Type == ZmtpSocketType.Dealer ? "ROUTER" : "XPUB";
            bool ok = Type == ZmtpSocketType.Dealer ? peerType == "ROUTER" : peerType == "XPUB" || peerType == "PUB";
            if (!ok)
                throw new IOException(Endpoint + " is a " + peerType + " socket; a " + (Type == ZmtpSocketType.Dealer ? "DEALER" : "SUB")
                                      + " client needs " + expected + " (is this the mirror port instead of the control port?)");
        }

        void ReadLoop()
        {
            var parts = new List<byte[]>();
            DateTime lastHeard = DateTime.UtcNow, lastPing = DateTime.UtcNow;
            while (!_closing)
            {
                byte flags;
                byte[] body = ReadFrame(out flags, false);
                DateTime now = DateTime.UtcNow;
                if (body == null)   // read timed out: time for heartbeats
                {
                    if ((now - lastHeard).TotalMilliseconds > _options.HeartbeatTimeoutMs)
                        throw new IOException("no traffic from " + Endpoint + " for " + _options.HeartbeatTimeoutMs + " ms (heartbeat timeout)");
                    if ((now - lastPing).TotalMilliseconds >= _options.HeartbeatIntervalMs)
                    {
                        SendPing();
                        lastPing = now;
                    }
                    continue;
                }
                lastHeard = now;
                if (_curve != null)
                {
                    // Under CURVE every frame is a MESSAGE (sent as a plain frame); its own flags say more / command.
                    if ((flags & FlagCommand) != 0 && ZmtpFrames.CommandName(body) == "ERROR") HandleCommand(body);
                    byte inner;
                    var boxed = body;
                    try { body = _curve.Decode(boxed, out inner, Pool); }
                    catch (Curve.CurveException ex) { throw new IOException(Endpoint + ": " + ex.Message); }
                    if (Pool != null) Pool.Return(boxed);   // opened into its own array: the box is done with
                    flags = (byte)(((inner & 1) != 0 ? FlagMore : 0) | ((inner & 2) != 0 ? FlagCommand : 0));
                }
                if ((flags & FlagCommand) != 0)
                {
                    HandleCommand(body);
                    continue;
                }
                parts.Add(body);
                if ((flags & FlagMore) != 0) continue;
                if (OnMessage != null)
                {
                    OnMessage(parts);
                    parts.Clear();
                }
                else
                {
                    var message = parts;
                    parts = new List<byte[]>();
                    lock (_inbox)
                    {
                        if (_inbox.Count < _options.MaxQueuedMessages) _inbox.Enqueue(message);
                        Monitor.PulseAll(_inbox);
                    }
                }
                AllocationProbe.Sample(ref _readAllocated);
                if ((now - lastPing).TotalMilliseconds >= _options.HeartbeatIntervalMs)
                {
                    SendPing();
                    lastPing = now;
                }
            }
        }

        void HandleCommand(byte[] body)
        {
            string name = ZmtpFrames.CommandName(body);
            if (name == "PING")
            {
                // PING: name, 2-byte TTL, then up to 16 bytes of context that PONG must echo.
                int contextStart = 1 + 4 + 2;
                int contextLength = Math.Max(0, body.Length - contextStart);
                var pong = new byte[1 + 4 + contextLength];
                pong[0] = 4;
                pong[1] = (byte)'P'; pong[2] = (byte)'O'; pong[3] = (byte)'N'; pong[4] = (byte)'G';
                if (contextLength > 0) Buffer.BlockCopy(body, contextStart, pong, 5, contextLength);
                SendCommand(pong);
            }
            else if (name == "ERROR")
            {
                throw new IOException(Endpoint + " closed the connection: " + Encoding.UTF8.GetString(body, 6, Math.Max(0, body.Length - 6)));
            }
            // PONG and unknown commands only prove the peer is alive.
        }

        void SendPing()
        {
            int ttlDeciseconds = _options.HeartbeatTimeoutMs / 100;
            SendCommand(new byte[] { 4, (byte)'P', (byte)'I', (byte)'N', (byte)'G', (byte)(ttlDeciseconds >> 8), (byte)ttlDeciseconds });
        }

        /// <summary>A command written straight to the stream: only during the handshake, before
        /// the writer thread owns the stream.</summary>
        void WriteCommand(byte[] body)
        {
            var wire = new byte[body.Length + 9];
            int length = ZmtpFrames.PutFrame(wire, 0, body, FlagCommand);
            lock (_writeLock) { _stream.Write(wire, 0, length); _stream.Flush(); }
        }

        void SendCommand(byte[] body)
        {
            if (_curve != null) { SendBoxed(new[] { body }, true); return; }
            var wire = new byte[body.Length + 2];
            ZmtpFrames.PutFrame(wire, 0, body, FlagCommand);
            Enqueue(wire);
        }

        void SendSubscription(byte[] prefix)
        {
            // The message form (0x01 + prefix) that every libzmq XPUB understands.
            var frame = new byte[prefix.Length + 1];
            frame[0] = 1;
            Buffer.BlockCopy(prefix, 0, frame, 1, prefix.Length);
            TrySend(new List<byte[]> { frame });
        }

        // -- framing ----------------------------------------------------------------------------------
        /// <summary>One frame, or null if the read timed out before its first byte (heartbeat tick).</summary>
        byte[] ReadFrame(out byte flags, bool block)
        {
            flags = 0;
            if (!ReadInto(_header, 0, 1, block)) return null;
            flags = _header[0];
            long size;
            if ((flags & FlagLong) != 0)
            {
                ReadInto(_header, 1, 8, true);
                size = 0;
                for (int i = 0; i < 8; i++) size = (size << 8) | _header[1 + i];
            }
            else
            {
                ReadInto(_header, 1, 1, true);
                size = _header[1];
            }
            if (size < 0 || size > _options.MaxFrameBytes)
                throw new IOException("a frame of " + size + " bytes from " + Endpoint + " is over the " + _options.MaxFrameBytes + "-byte cap");
            var pool = Pool;
            var body = pool != null && (flags & FlagCommand) == 0 ? pool.Rent((int)size) : new byte[size];
            ReadInto(body, 0, (int)size, true);
            return body;
        }

        byte[] ReadExactly(int count, bool block)
        {
            var buffer = new byte[count];
            return ReadInto(buffer, 0, count, block) ? buffer : null;
        }

        /// <summary>Fill buffer[offset..offset+count); false if the read timed out before its first
        /// byte and `block` is false (a heartbeat tick).</summary>
        bool ReadInto(byte[] buffer, int offset, int count, bool block)
        {
            int got = 0;
            while (got < count)
            {
                int n;
                try
                {
                    n = _stream.Read(buffer, offset + got, count - got);
                }
                catch (IOException ex) when (IsTimeout(ex))
                {
                    if (_closing) throw new IOException("closing");
                    if (DateTime.UtcNow > _handshakeDeadline)
                        throw new IOException(Endpoint + " accepted the connection but did not answer the ZMTP greeting (not a ZeroMQ socket?)");
                    if (got == 0 && !block) return false;
                    continue;   // mid-frame: keep waiting for the rest
                }
                if (n == 0)
                {
                    // libzmq hangs up mid-greeting when the security mechanisms differ.
                    bool handshaking = _handshakeDeadline != DateTime.MaxValue;
                    throw new IOException(Endpoint + " closed the connection" + (!handshaking ? "" : _options.CurveServerKey == null
                        ? " during the handshake (a CURVE server? give this client its public key and a key pair)"
                        : " during the CURVE handshake"));
                }
                got += n;
            }
            return true;
        }

        static bool IsTimeout(IOException ex)
        {
            var socketError = ex.InnerException as SocketException;
            return socketError != null && (socketError.SocketErrorCode == SocketError.TimedOut
                                           || socketError.SocketErrorCode == SocketError.WouldBlock);
        }

        // -- state ------------------------------------------------------------------------------------
        void Drop(string why)
        {
            LastError = why;
            CloseTransport();
        }

        void CloseTransport()
        {
            _connectedStream = null;
            var tcp = _tcp;
            _tcp = null;
            try { if (tcp != null) tcp.Close(); } catch (Exception) { }
        }

        void SetState(ZmtpState state, string error)
        {
            if (_state == state) return;
            _state = state;
            var handler = StateChanged;
            if (handler != null) handler(state, error);
        }

        static string Describe(Exception ex)
        {
            var socketError = ex as SocketException ?? ex.InnerException as SocketException;
            if (socketError != null && socketError.SocketErrorCode == SocketError.ConnectionRefused)
                return "connection refused (is `avbridge serve` running on that port?)";
            return ex.Message;
        }
    }
}
