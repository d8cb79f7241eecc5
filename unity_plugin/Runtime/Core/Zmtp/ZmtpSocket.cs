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
    }

    public sealed class ZmtpSocket : IDisposable
    {
        const byte FlagMore = 0x01, FlagLong = 0x02, FlagCommand = 0x04;

        public readonly ZmtpSocketType Type;
        public readonly string Endpoint;
        readonly string _host;
        readonly int _port;
        readonly ZmtpOptions _options;
        readonly object _writeLock = new object();
        readonly Queue<List<byte[]>> _inbox = new Queue<List<byte[]>>();
        readonly List<byte[]> _subscriptions = new List<byte[]>();
        readonly Thread _thread;
        volatile bool _closing;
        volatile ZmtpState _state = ZmtpState.Connecting;
        TcpClient _tcp;
        Stream _stream;
        DateTime _handshakeDeadline = DateTime.MaxValue;   // a peer that never answers the greeting
        int _reconnects;

        /// <summary>Raised on the socket's own thread when the state changes; keep handlers short.</summary>
        public event Action<ZmtpState, string> StateChanged;

        /// <summary>Optional: called on the socket's own thread for each message instead of queueing it.</summary>
        public Action<List<byte[]>> OnMessage;

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
                Thread.Sleep(5);
            }
        }

        public void Subscribe(byte[] prefix)
        {
            lock (_subscriptions) _subscriptions.Add(prefix);
            if (_state == ZmtpState.Connected) SendSubscription(prefix);
        }

        /// <summary>Send one multipart message; false when not connected (nothing is queued: the
        /// server forgets a client's state when the connection drops, so stale requests would mislead).</summary>
        public bool TrySend(IList<byte[]> frames)
        {
            if (_state != ZmtpState.Connected) return false;
            try
            {
                lock (_writeLock)
                {
                    for (int i = 0; i < frames.Count; i++) WriteFrame(frames[i], i < frames.Count - 1 ? FlagMore : (byte)0);
                    _stream.Flush();
                }
                return true;
            }
            catch (Exception ex) when (ex is IOException || ex is ObjectDisposedException || ex is SocketException || ex is NullReferenceException)
            {
                Drop("send failed: " + ex.Message);
                return false;
            }
        }

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
            CloseTransport();
            if (Thread.CurrentThread != _thread) _thread.Join(2000);
            SetState(ZmtpState.Closed, null);
        }

        // -- the connection thread ----------------------------------------------------------------
        void Run()
        {
            int backoff = _options.ReconnectMinMs;
            while (!_closing)
            {
                SetState(ZmtpState.Connecting, null);
                try
                {
                    Open();
                    backoff = _options.ReconnectMinMs;
                    SetState(ZmtpState.Connected, null);
                    lock (_subscriptions) foreach (var s in _subscriptions) SendSubscription(s);
                    ReadLoop();
                }
                catch (Exception ex)
                {
                    if (_closing) break;
                    LastError = Describe(ex);
                }
                CloseTransport();
                if (_closing) break;
                SetState(ZmtpState.Disconnected, LastError);
                Interlocked.Increment(ref _reconnects);
                Thread.Sleep(backoff);
                backoff = Math.Min(backoff * 2, _options.ReconnectMaxMs);
            }
        }

        void Open()
        {
            var tcp = new TcpClient { NoDelay = true };
            var connecting = tcp.BeginConnect(_host, _port, null, null);
            if (!connecting.AsyncWaitHandle.WaitOne(_options.ConnectTimeoutMs))
            {
                tcp.Close();
                throw new TimeoutException("no answer from " + Endpoint + " in " + _options.ConnectTimeoutMs + " ms");
            }
            tcp.EndConnect(connecting);
            tcp.ReceiveTimeout = Math.Max(50, _options.HeartbeatIntervalMs / 2);
            _tcp = tcp;
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
            Encoding.ASCII.GetBytes("NULL", 0, 4, greeting, 12);
            lock (_writeLock) { _stream.Write(greeting, 0, 64); _stream.Flush(); }
            var peer = ReadExactly(64, true);
            if (peer[0] != 0xff || peer[9] != 0x7f)
                throw new IOException(Endpoint + " is not a ZeroMQ peer (bad greeting)");
            if (peer[10] < 3)
                throw new IOException(Endpoint + " speaks ZMTP " + peer[10] + "." + peer[11] + "; 3.0 or later is needed");
            string mechanism = Encoding.ASCII.GetString(peer, 12, 20).TrimEnd('\0');
            if (mechanism != "NULL")
                throw new IOException(Endpoint + " wants the " + mechanism + " security mechanism; this client speaks NULL only");
            var ready = new MemoryStream();
            WriteCommandName(ready, "READY");
            WriteProperty(ready, "Socket-Type", Encoding.ASCII.GetBytes(Type == ZmtpSocketType.Dealer ? "DEALER" : "SUB"));
            if (Type == ZmtpSocketType.Dealer)
            {
                // A fresh identity per connection: libzmq drops a connection whose identity is in use.
                var identity = new byte[9];
                identity[0] = (byte)'c';
                Buffer.BlockCopy(Guid.NewGuid().ToByteArray(), 0, identity, 1, 8);
                WriteProperty(ready, "Identity", identity);
            }
            lock (_writeLock) { WriteFrame(ready.ToArray(), FlagCommand); _stream.Flush(); }
            byte flags;
            var body = ReadFrame(out flags, true);
            if ((flags & FlagCommand) == 0) throw new IOException(Endpoint + " sent data before its READY");
            string name = CommandName(body);
            if (name == "ERROR")
                throw new IOException(Endpoint + " refused the connection: " + Encoding.UTF8.GetString(body, 7, Math.Max(0, body.Length - 7)));
            if (name != "READY") throw new IOException(Endpoint + " sent " + name + " instead of READY");
            var properties = ReadProperties(body, 1 + name.Length);
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
                if ((flags & FlagCommand) != 0)
                {
                    HandleCommand(body);
                    continue;
                }
                parts.Add(body);
                if ((flags & FlagMore) != 0) continue;
                var message = parts;
                parts = new List<byte[]>();
                if (OnMessage != null) { OnMessage(message); continue; }
                lock (_inbox)
                {
                    if (_inbox.Count < _options.MaxQueuedMessages) _inbox.Enqueue(message);
                    Monitor.PulseAll(_inbox);
                }
                if ((now - lastPing).TotalMilliseconds >= _options.HeartbeatIntervalMs)
                {
                    SendPing();
                    lastPing = now;
                }
            }
        }

        void HandleCommand(byte[] body)
        {
            string name = CommandName(body);
            if (name == "PING")
            {
                // PING: name, 2-byte TTL, then up to 16 bytes of context that PONG must echo.
                int contextStart = 1 + 4 + 2;
                int contextLength = Math.Max(0, body.Length - contextStart);
                var pong = new MemoryStream();
                WriteCommandName(pong, "PONG");
                if (contextLength > 0) pong.Write(body, contextStart, contextLength);
                lock (_writeLock) { WriteFrame(pong.ToArray(), FlagCommand); _stream.Flush(); }
            }
            else if (name == "ERROR")
            {
                throw new IOException(Endpoint + " closed the connection: " + Encoding.UTF8.GetString(body, 6, Math.Max(0, body.Length - 6)));
            }
            // PONG and unknown commands only prove the peer is alive.
        }

        void SendPing()
        {
            var ping = new MemoryStream();
            WriteCommandName(ping, "PING");
            int ttlDeciseconds = _options.HeartbeatTimeoutMs / 100;
            ping.WriteByte((byte)(ttlDeciseconds >> 8));
            ping.WriteByte((byte)ttlDeciseconds);
            lock (_writeLock) { WriteFrame(ping.ToArray(), FlagCommand); _stream.Flush(); }
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
        void WriteFrame(byte[] body, byte flags)
        {
            if (body.LongLength > 255)
            {
                var header = new byte[9];
                header[0] = (byte)(flags | FlagLong);
                ulong n = (ulong)body.LongLength;
                for (int i = 0; i < 8; i++) header[1 + i] = (byte)(n >> (56 - 8 * i));
                _stream.Write(header, 0, 9);
            }
            else
            {
                _stream.WriteByte(flags);
                _stream.WriteByte((byte)body.Length);
            }
            _stream.Write(body, 0, body.Length);
        }

        /// <summary>One frame, or null if the read timed out before its first byte (heartbeat tick).</summary>
        byte[] ReadFrame(out byte flags, bool block)
        {
            var first = ReadExactly(1, block);
            flags = 0;
            if (first == null) return null;
            flags = first[0];
            long size;
            if ((flags & FlagLong) != 0)
            {
                var n = ReadExactly(8, true);
                size = 0;
                for (int i = 0; i < 8; i++) size = (size << 8) | n[i];
            }
            else
            {
                size = ReadExactly(1, true)[0];
            }
            if (size < 0 || size > _options.MaxFrameBytes)
                throw new IOException("a frame of " + size + " bytes from " + Endpoint + " is over the " + _options.MaxFrameBytes + "-byte cap");
            return ReadExactly((int)size, true);
        }

        byte[] ReadExactly(int count, bool block)
        {
            var buffer = new byte[count];
            int got = 0;
            while (got < count)
            {
                int n;
                try
                {
                    n = _stream.Read(buffer, got, count - got);
                }
                catch (IOException ex) when (IsTimeout(ex))
                {
                    if (_closing) throw new IOException("closing");
                    if (DateTime.UtcNow > _handshakeDeadline)
                        throw new IOException(Endpoint + " accepted the connection but did not answer the ZMTP greeting (not a ZeroMQ socket?)");
                    if (got == 0 && !block) return null;
                    continue;   // mid-frame: keep waiting for the rest
                }
                if (n == 0) throw new IOException(Endpoint + " closed the connection");
                got += n;
            }
            return buffer;
        }

        static bool IsTimeout(IOException ex)
        {
            var socketError = ex.InnerException as SocketException;
            return socketError != null && (socketError.SocketErrorCode == SocketError.TimedOut
                                           || socketError.SocketErrorCode == SocketError.WouldBlock);
        }

        static void WriteCommandName(Stream s, string name)
        {
            s.WriteByte((byte)name.Length);
            var bytes = Encoding.ASCII.GetBytes(name);
            s.Write(bytes, 0, bytes.Length);
        }

        static void WriteProperty(Stream s, string name, byte[] value)
        {
            WriteCommandName(s, name);
            s.WriteByte((byte)(value.Length >> 24));
            s.WriteByte((byte)(value.Length >> 16));
            s.WriteByte((byte)(value.Length >> 8));
            s.WriteByte((byte)value.Length);
            s.Write(value, 0, value.Length);
        }

        static string CommandName(byte[] body)
        {
            if (body.Length < 1 || body.Length < 1 + body[0]) throw new IOException("malformed ZMTP command");
            return Encoding.ASCII.GetString(body, 1, body[0]);
        }

        static Dictionary<string, byte[]> ReadProperties(byte[] body, int pos)
        {
            var properties = new Dictionary<string, byte[]>();
            while (pos < body.Length)
            {
                int nameLength = body[pos++];
                if (pos + nameLength + 4 > body.Length) throw new IOException("malformed READY properties");
                string name = Encoding.ASCII.GetString(body, pos, nameLength).ToLowerInvariant();
                pos += nameLength;
                int valueLength = (body[pos] << 24) | (body[pos + 1] << 16) | (body[pos + 2] << 8) | body[pos + 3];
                pos += 4;
                if (valueLength < 0 || pos + valueLength > body.Length) throw new IOException("malformed READY properties");
                var value = new byte[valueLength];
                Buffer.BlockCopy(body, pos, value, 0, valueLength);
                pos += valueLength;
                properties[name] = value;
            }
            return properties;
        }

        // -- state ------------------------------------------------------------------------------------
        void Drop(string why)
        {
            LastError = why;
            CloseTransport();
        }

        void CloseTransport()
        {
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
