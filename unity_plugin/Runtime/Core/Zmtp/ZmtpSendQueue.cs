// The socket's outgoing side: whole wire messages queued by any thread and written by one thread
// of its own, so a send never blocks the caller (a game's main thread) on a stalled server or a
// full TCP window. The queue is bounded in bytes; a full queue refuses the message.
using System;
using System.Collections.Generic;
using System.IO;
using System.Net.Sockets;
using System.Threading;

namespace Avbridge.Core.Zmtp
{
    sealed class ZmtpSendQueue
    {
        readonly Queue<byte[]> _queue = new Queue<byte[]>();
        readonly AutoResetEvent _signal = new AutoResetEvent(false);
        readonly Func<Stream> _stream;        // the connected stream, or null between connections
        readonly Action<string> _failed;      // a write failed: drop the connection
        readonly int _maxBytes;
        readonly Thread _thread;
        int _bytes;
        volatile bool _closing;

        public ZmtpSendQueue(string name, int maxBytes, Func<Stream> stream, Action<string> failed)
        {
            _maxBytes = maxBytes;
            _stream = stream;
            _failed = failed;
            _thread = new Thread(Run) { IsBackground = true, Name = name };
            _thread.Start();
        }

        public int Bytes { get { lock (_queue) return _bytes; } }

        /// <summary>Queue `wire`; null when queued, else why not.</summary>
        public string Add(byte[] wire)
        {
            lock (_queue)
            {
                if (_bytes + wire.Length > _maxBytes) return "send queue full (" + _bytes + " bytes)";
                _queue.Enqueue(wire);
                _bytes += wire.Length;
            }
            _signal.Set();
            return null;
        }

        /// <summary>Write what is queued: a newly connected stream is there.</summary>
        public void Wake() { _signal.Set(); }

        public void Clear()
        {
            lock (_queue)
            {
                _queue.Clear();
                _bytes = 0;
            }
        }

        public void Close(int waitMs)
        {
            _closing = true;
            _signal.Set();
            if (Thread.CurrentThread != _thread) _thread.Join(waitMs);
        }

        void Run()
        {
            while (!_closing)
            {
                _signal.WaitOne();
                while (!_closing)
                {
                    var stream = _stream();
                    byte[] wire;
                    lock (_queue)
                    {
                        if (stream == null || _queue.Count == 0) break;
                        wire = _queue.Dequeue();
                        _bytes -= wire.Length;
                    }
                    try
                    {
                        stream.Write(wire, 0, wire.Length);
                    }
                    catch (Exception ex) when (ex is IOException || ex is ObjectDisposedException || ex is SocketException || ex is InvalidOperationException)
                    {
                        _failed("send failed: " + ex.Message);
                        break;
                    }
                }
            }
        }
    }
}
