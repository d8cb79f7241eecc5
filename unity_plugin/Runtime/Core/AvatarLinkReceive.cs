// AvatarLink, continued: what runs on the socket's read thread (decoding, the jitter buffer's
// input, replies, reconnects). Kept apart from the requests so each file reads on its own.
using System;
using System.Collections.Generic;
using System.Threading;
using Avbridge.Core.Protocol;
using Avbridge.Core.Zmtp;

namespace Avbridge.Core
{
    public sealed partial class AvatarLink
    {
        // -- the socket's thread ------------------------------------------------------------------
        void OnFrames(List<byte[]> frames)
        {
            if (MessageReceived == null && frames.Count == 2 && _streamHeader.TryRead(frames[0], frames[1]))
            {
                var h = _streamHeader;
                if (h.IsAudio) Stream.AddAudio(h.Utterance, h.Offset, frames[1]);
                else Stream.AddFrames(h.Utterance, h.First, (int)h.Count, frames[1]);
                _pool.Return(frames[0]);   // both were copied out
                _pool.Return(frames[1]);
                return;
            }
            if (MessageReceived == null && frames.Count == 1 && _streamHeader.TryReadEvent(frames[0]))
            {
                var h = _streamHeader;
                double start;
                lock (_lock) _utteranceStarts.TryGetValue(h.Utterance, out start);
                Stream.AddEvent(h.Utterance, h.Name, h.Text, h.Time - start);
                _pool.Return(frames[0]);
                return;
            }
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
                        lock (_lock)
                        {
                            idle = _idleUtterances.Remove(m.Str("utterance"));
                            _utteranceStarts.Remove(m.Str("utterance"));
                        }
                        if (!idle)   // the end of an idle stream is no line's end
                            Enqueue(new LinkEvent { Kind = LinkEventKind.StreamEnded, Utterance = m.Str("utterance"), Text = m.Str("status"), Message = m });
                    }
                    break;
                case "video":
                    // A portrait session's encoded frames (SPEC 8.8): a Unity avatar has its own
                    // face, so they are not kept; MessageReceived sees them for anyone who wants them.
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
            if (re < 0 && m.Type == "error" && m.StrOr("code", "") == "session_closed" && m.StrOr("session", null) == SessionId && SessionId != null)
            {
                // The server ended our session on its own (a cluster worker died; SPEC 7). Its
                // lines have had their ends; a new session is placed on a worker that is up.
                Stream.Clear();
                SessionId = null;
                Enqueue(new LinkEvent { Kind = LinkEventKind.Error, Code = "session_closed", Text = m.Str("message"), Message = m });
                ThreadPool.QueueUserWorkItem(_ => Reopen(0));
                return;
            }
            if (re >= 0 && re == Interlocked.Read(ref _reopenOpen) && m.Type == "error")
            {
                // The new session was refused (no worker up yet: the cluster is restarting the one
                // that died): say so, and ask again in a second while the link stays up.
                Enqueue(new LinkEvent { Kind = LinkEventKind.Error, Code = m.Str("code"), Text = m.Str("message"), Re = re, Message = m });
                ThreadPool.QueueUserWorkItem(_ => Reopen(1000));
                return;
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
                SampleRate = (int)m.Long("sample_rate");
                Restore();
                Enqueue(new LinkEvent { Kind = LinkEventKind.Reconnected, Text = "new session " + SessionId, Message = m });
                return;
            }
            lock (_lock)
            {
                // Only replies someone waits on are kept (a full table once dropped an awaited one).
                if (_awaited.Contains(re)) _replies[re] = m;
                Monitor.PulseAll(_lock);
                if (m.Type == "error")
                    _events.Enqueue(new LinkEvent { Kind = LinkEventKind.Error, Code = m.Str("code"), Text = m.Str("message"), Re = re, Message = m });
                else if (m.Type == "ok" && m.Has("utterance"))
                    _events.Enqueue(new LinkEvent { Kind = LinkEventKind.UtteranceQueued, Utterance = m.Str("utterance"), Re = re, Message = m });
                else if (m.Type != "pong")
                    _events.Enqueue(new LinkEvent { Kind = LinkEventKind.Reply, Re = re, Message = m });
            }
        }

        /// <summary>A new session after a reconnect: a new clock to learn, and what was set before.</summary>
        void Restore()
        {
            lock (_lock) Clock.Reset();
            var settings = RememberedSettings;
            try
            {
                if (settings.Count > 0)
                {
                    var set = SessionMessage("set");
                    foreach (var field in settings) set.With(field.Key, field.Value);
                    Send(set);
                }
                for (int i = 0; i < Math.Max(1, Options.SyncPings); i++) Ping();
            }
            catch (AvatarLinkException ex)
            {
                Enqueue(new LinkEvent { Kind = LinkEventKind.Error, Code = ex.Code, Text = ex.Message });
            }
        }

        void OnStateChanged(ZmtpState state, string error)
        {
            if (state == ZmtpState.Disconnected)
            {
                // The old session's lines and idle stream (on the old session's clock) are gone.
                Stream.Clear();
                SessionId = null;
                lock (_lock) _pingsSent.Clear();
                Enqueue(new LinkEvent { Kind = LinkEventKind.Disconnected, Text = error });
            }
            else if (state == ZmtpState.Connected)
            {
                Enqueue(new LinkEvent { Kind = LinkEventKind.Connected });
                if (_everConnected)
                {
                    // The server forgot us (or restarted): greet it again and open a new session.
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

        /// <summary>Open a new session in place of a lost one, after `delayMs`.</summary>
        void Reopen(int delayMs)
        {
            if (delayMs > 0) Thread.Sleep(delayMs);
            lock (_lock) { if (_disposed) return; }
            var socket = _socket;
            if (socket == null || socket.State != ZmtpState.Connected || SessionId != null) return;
            var open = Open();
            Interlocked.Exchange(ref _reopenOpen, Reserve(open));
            try { Transmit(open); }
            catch (AvatarLinkException ex) { Enqueue(new LinkEvent { Kind = LinkEventKind.Error, Code = ex.Code, Text = ex.Message }); }
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
