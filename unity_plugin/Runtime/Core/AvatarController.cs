// What an avatar component does each frame, without the engine: connection attempts, events,
// speech handles and the frame to show. AvbridgeClient (Unity) is a thin shell around it, so all of
// this is tested outside an editor.
//
//   var avatar = new AvatarController(new AvatarLinkOptions(), "tcp://127.0.0.1:5570");
//   avatar.Connect();                       // returns at once; Connected or Error follows in Update
//   var line = avatar.Say("Hello there.");  // a SpeechHandle: line.Id, line.State, await line.Completion
//   each frame: avatar.Update(deltaTime); read avatar.CurrentFrame
//
// Every event is raised from Update, on the caller's (main) thread.
using System;
using System.Collections.Generic;
using System.Threading;
using Avbridge.Core.Streaming;

namespace Avbridge.Core
{
    public enum ConnectionState { Disconnected, Connecting, Connected, Reconnecting }

    public sealed class AvatarController : IDisposable
    {
        /// <summary>One try at connecting, owned by the thread that runs it: a quick
        /// disable/enable starts a new attempt and drops the old one, and nothing is shared
        /// between them (a shared "done" flag once left the client holding a disposed link).</summary>
        sealed class Attempt
        {
            public readonly AvatarLink Link;
            public volatile bool Done;
            public volatile Exception Error;
            public Attempt(AvatarLink link) { Link = link; }
        }

        public readonly string Endpoint;
        public readonly AvatarLinkOptions Options;

        /// <summary>Seconds between tries while the server cannot be reached at first (0: try once).</summary>
        public double RetrySeconds = 2;

        public event Action Connected;
        public event Action<string> Disconnected;                 // why
        public event Action<string> Reconnected;
        public event Action<string, string> Error;                // code, sentence
        public event Action<SpeechHandle> UtteranceQueued;        // the server accepted the line
        public event Action<SpeechHandle> UtteranceStarted;       // its audio starts playing
        public event Action<SpeechHandle> UtteranceFinished;      // finished, interrupted or failed: see State
        public event Action<string, string> Word;                 // utterance id, word, as the voice reaches it
        public event Action<string, string> Phoneme;
        public event Action<string, string> Emotion;              // with emotion "auto": the one chosen per sentence

        /// <summary>The frame to show this Update (63 floats; SPEC.md 8.3).</summary>
        public readonly float[] CurrentFrame = AvatarStream.Neutral();
        public bool IsSpeaking { get; private set; }
        public AvatarLink Link { get; private set; }
        public ConnectionState State { get; private set; }
        public string LastError { get; private set; }

        /// <summary>Lines said and not yet settled, by utterance id.</summary>
        public int PendingLines { get { return _handles.Count; } }

        Attempt _attempt;
        double _retryIn = -1;
        bool _retrying;           // the last attempt failed: the next failures are not reported again
        bool _paused;
        readonly Dictionary<string, SpeechHandle> _handles = new Dictionary<string, SpeechHandle>();
        readonly List<SpeechHandle> _settled = new List<SpeechHandle>();
        readonly List<LinkEvent> _linkEvents = new List<LinkEvent>();
        readonly List<StreamEvent> _streamEvents = new List<StreamEvent>();

        public AvatarController(AvatarLinkOptions options, string endpoint)
        {
            Options = options ?? new AvatarLinkOptions();
            Endpoint = endpoint;
            Zmtp.ZmtpSocket.ParseEndpoint(endpoint, out _, out _);   // a bad endpoint fails here, with the sentence
        }

        public bool IsConnected { get { return Link != null && Link.IsConnected; } }

        /// <summary>Start connecting (hello and open) on a background thread; returns at once.</summary>
        public void Connect()
        {
            if (Link != null || _attempt != null) return;
            var attempt = new Attempt(new AvatarLink(Endpoint, Options));
            _attempt = attempt;
            _retryIn = -1;
            State = ConnectionState.Connecting;
            ThreadPool.QueueUserWorkItem(_ =>
            {
                try { attempt.Link.Connect(); }
                catch (Exception ex) { attempt.Error = ex; }
                attempt.Done = true;
            });
        }

        /// <summary>Close the session and the socket without waiting for a server that is down.
        /// Lines not yet heard are settled as Interrupted.</summary>
        public void Disconnect()
        {
            var attempt = _attempt;
            _attempt = null;
            _retryIn = -1;
            if (attempt != null) attempt.Link.Dispose();   // its thread gives up at once
            var link = Link;
            Link = null;
            if (link != null) link.Dispose();
            State = ConnectionState.Disconnected;
            SettleAll(SpeechState.Interrupted);
            FlushSettled();
        }

        public void Dispose() { Disconnect(); }

        /// <summary>The app lost focus or was suspended (a headset taken off): nothing is played, so
        /// lines are cut rather than left to pile up, and the clock is re-learnt on resume.</summary>
        public void SetPaused(bool paused)
        {
            if (paused == _paused) return;
            _paused = paused;
            var link = Link;
            if (link == null || !link.IsConnected) return;
            if (paused) Interrupt();
            else try { link.Ping(); } catch (AvatarLinkException) { }
        }

        public SpeechHandle Say(string text, string emotion = null, double? intensity = null, string utterance = null)
        {
            var handle = new SpeechHandle(utterance ?? AvatarLink.NewUtteranceId(), text);
            if (!Call(() => handle.Seq = Link.Say(text, emotion, intensity, handle.Id), handle)) return handle;
            _handles[handle.Id] = handle;
            return handle;
        }

        /// <summary>Stop speaking now: every line queued or playing settles as Interrupted at once.</summary>
        public void Interrupt()
        {
            Call(() => Link.Interrupt(), null);
            SettleAll(SpeechState.Interrupted);
            FlushSettled();
        }

        public void SetEmotion(string emotion, double intensity = 0.7) { Call(() => Link.SetEmotion(emotion, intensity), null); }
        public void SetGazeTarget(double yaw, double pitch) { Call(() => Link.SetGazeTarget(yaw, pitch), null); }
        public void SetThinking(bool thinking) { Call(() => Link.SetThinking(thinking), null); }
        public void SetParameters(double? expressiveness = null, double? articulation = null, double? blinkRate = null)
        {
            Call(() => Link.SetParameters(expressiveness, articulation, blinkRate), null);
        }

        /// <summary>Speech the game plays itself: send it in pieces, report playback with
        /// ReportPlayback, and FinishPlayback when the game stops playing it.</summary>
        public SpeechHandle SpeakAudio(string utterance, short[] pcm, int sampleRate, long offset, bool final)
        {
            return SpeakAudio(utterance, pcm, pcm.Length, sampleRate, offset, final);
        }

        /// <summary>As above, with the first `count` samples of `pcm`.</summary>
        public SpeechHandle SpeakAudio(string utterance, short[] pcm, int count, int sampleRate, long offset, bool final)
        {
            SpeechHandle handle;
            bool known = _handles.TryGetValue(utterance, out handle);
            if (!known) handle = new SpeechHandle(utterance, null);
            if (Call(() => handle.Seq = Link.SpeakAudio(utterance, pcm, count, sampleRate, offset, final), handle) && !known) _handles[utterance] = handle;
            return handle;
        }

        public void ReportPlayback(string utterance, double seconds)
        {
            if (Link != null) Link.Stream.SetExternalPlayhead(utterance, seconds);
        }

        /// <summary>The game stopped playing `utterance` (its AudioSource ended, the microphone was
        /// muted): the face lets go now.</summary>
        public void FinishPlayback(string utterance)
        {
            if (Link != null) Link.Stream.FinishExternal(utterance);
        }

        bool Call(Func<long> request, SpeechHandle handle)
        {
            string why = null, code = "not_connected";
            if (Link == null) why = "not connected to " + Endpoint + (_attempt != null ? " yet" : "");
            else
            {
                try { request(); return true; }
                catch (AvatarLinkException ex) { code = ex.Code; why = ex.Message; }
            }
            if (handle != null) { handle.Fail(code, why); _settled.Add(handle); }
            RaiseError(code, why);
            return false;
        }

        /// <summary>Once per rendered frame, on the main thread: finish connecting, raise events,
        /// and sample the frame to show.</summary>
        public void Update(double deltaTime)
        {
            FinishConnecting(deltaTime);
            var link = Link;
            if (link == null)
            {
                // No link (never connected, or disconnected): the face relaxes rather than freezing mid-word.
                IsSpeaking = false;
                float k = (float)(1 - Math.Exp(-Math.Max(deltaTime, 0) / Options.EaseSeconds));
                AvatarStream.Interpolate(CurrentFrame, NeutralFrame, k, CurrentFrame);
                FlushSettled();
                return;
            }
            _linkEvents.Clear();
            link.Poll(_linkEvents);
            for (int i = 0; i < _linkEvents.Count; i++) Dispatch(_linkEvents[i]);
            IsSpeaking = link.SampleFrame(CurrentFrame, deltaTime);
            _streamEvents.Clear();
            link.Stream.PollEvents(_streamEvents);
            for (int i = 0; i < _streamEvents.Count; i++) Dispatch(_streamEvents[i]);
            FlushSettled();
        }

        static readonly float[] NeutralFrame = AvatarStream.Neutral();

        void FinishConnecting(double deltaTime)
        {
            if (_retryIn >= 0 && _attempt == null && Link == null)
            {
                _retryIn -= deltaTime;
                if (_retryIn < 0) Connect();
                return;
            }
            var attempt = _attempt;
            if (attempt == null || !attempt.Done) return;
            _attempt = null;
            if (attempt.Error != null)
            {
                attempt.Link.Dispose();
                State = ConnectionState.Disconnected;
                // Said once per outage: a server that stays down for a minute is not 30 warnings.
                if (!_retrying) RaiseError("not_connected", attempt.Error.Message);
                else LastError = "not_connected: " + attempt.Error.Message;
                _retrying = RetrySeconds > 0;
                if (RetrySeconds > 0) _retryIn = RetrySeconds;
                return;
            }
            _retrying = false;
            Link = attempt.Link;
            State = ConnectionState.Connected;
            LastError = null;
            if (Connected != null) Connected();
        }

        void Dispatch(LinkEvent e)
        {
            switch (e.Kind)
            {
                case LinkEventKind.Disconnected:
                    State = ConnectionState.Reconnecting;
                    SettleAll(SpeechState.Interrupted);
                    if (Disconnected != null) Disconnected(e.Text);
                    break;
                case LinkEventKind.Reconnected:
                    State = ConnectionState.Connected;
                    if (Reconnected != null) Reconnected(e.Text);
                    break;
                case LinkEventKind.Error:
                    {
                        SpeechHandle handle;
                        handle = null;
                        if (e.Re > 0) foreach (var h in _handles.Values) if (h.Seq == e.Re) { handle = h; break; }
                        if (handle != null) Settle(handle, SpeechState.Failed, e.Code, e.Text);   // the server refused the line
                        RaiseError(e.Code, e.Text);
                        break;
                    }
                case LinkEventKind.UtteranceQueued:
                    {
                        SpeechHandle handle;
                        if (e.Utterance != null && _handles.TryGetValue(e.Utterance, out handle))
                        {
                            handle.Advance(SpeechState.Queued);
                            if (UtteranceQueued != null) UtteranceQueued(handle);
                        }
                        break;
                    }
                case LinkEventKind.StreamEnded:
                    {
                        // A line cut or failed before it played has no playback event: settle it here.
                        SpeechHandle handle;
                        if (e.Text != "done" && e.Utterance != null && _handles.TryGetValue(e.Utterance, out handle) && handle.State < SpeechState.Playing)
                            Settle(handle, e.Text == "interrupted" ? SpeechState.Interrupted : SpeechState.Failed, "stream_" + e.Text,
                                   e.Message != null ? e.Message.StrOr("reason", e.Text) : e.Text);
                        break;
                    }
            }
        }

        void Dispatch(StreamEvent e)
        {
            SpeechHandle handle;
            _handles.TryGetValue(e.Utterance ?? "", out handle);
            switch (e.Name)
            {
                case "started":
                    if (handle != null) { handle.Advance(SpeechState.Playing); if (UtteranceStarted != null) UtteranceStarted(handle); }
                    break;
                case "finished": if (handle != null) Settle(handle, SpeechState.Finished, null, null); break;
                case "interrupted": if (handle != null) Settle(handle, SpeechState.Interrupted, null, null); break;
                case "word": if (Word != null) Word(e.Utterance, e.Text); break;
                case "phoneme": if (Phoneme != null) Phoneme(e.Utterance, e.Text); break;
                case "emotion": if (Emotion != null) Emotion(e.Utterance, e.Text); break;
            }
        }

        void Settle(SpeechHandle handle, SpeechState state, string code, string message)
        {
            if (state == SpeechState.Failed) handle.Fail(code, message); else handle.Advance(state);
            _handles.Remove(handle.Id);
            _settled.Add(handle);
        }

        void SettleAll(SpeechState state)
        {
            if (_handles.Count == 0) return;
            foreach (var h in _handles.Values) { h.Advance(state); _settled.Add(h); }
            _handles.Clear();
        }

        void FlushSettled()
        {
            if (_settled.Count == 0) return;
            for (int i = 0; i < _settled.Count; i++) if (UtteranceFinished != null) UtteranceFinished(_settled[i]);
            _settled.Clear();
        }

        void RaiseError(string code, string message)
        {
            LastError = code + ": " + message;
            if (Error != null) Error(code, message);
        }
    }
}
