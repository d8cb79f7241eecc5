// The avatar's connection: add one to an NPC, call Say("Hello"). Everything that listens to it
// (audio player, blendshape and head drivers) reads CurrentFrame or its events, all on the main
// thread. The network and audio threads meet the main thread only inside AvatarStream's lock.
using System;
using System.Collections.Generic;
using Avbridge.Core;
using Avbridge.Core.Streaming;
using UnityEngine;

namespace Avbridge.Unity
{
    [DisallowMultipleComponent]
    [AddComponentMenu("avbridge/Avbridge Client")]
    public sealed class AvbridgeClient : MonoBehaviour
    {
        [Tooltip("The server's control endpoint (avbridge serve --bind).")]
        public string endpoint = "tcp://127.0.0.1:5570";
        [Tooltip("Animation frames per second the server generates.")]
        public float fps = 60f;
        [Tooltip("piper (natural) or espeak (instant, robotic); empty for the server's default.")]
        public string voice = "";
        public bool connectOnEnable = true;

        public event Action Connected;
        public event Action<string> Disconnected;
        public event Action<string> Reconnected;
        public event Action<string, string> Error;               // code, sentence
        public event Action<string> UtteranceStarted;            // utterance id, when its audio starts playing
        public event Action<string, bool> UtteranceFinished;     // utterance id, interrupted?
        public event Action<string> Word;                        // as the playhead reaches it
        public event Action<string> Phoneme;
        public event Action<string> Emotion;                     // with emotion "auto": the one chosen for each sentence

        public AvatarLink Link { get; private set; }
        public bool IsConnected { get { return Link != null && Link.IsConnected; } }
        public bool IsConnecting { get { return _connecting != null; } }

        /// <summary>The frame at the audio playhead this Update (63 floats; see SPEC.md 8.3).</summary>
        public readonly float[] CurrentFrame = AvatarStream.Neutral();
        public bool IsSpeaking { get; private set; }

        static readonly List<AvbridgeClient> Live = new List<AvbridgeClient>();
        // Connecting takes up to the connect timeout when the server is down: it runs on a
        // background thread so that neither the game nor the editor waits for it.
        volatile AvatarLink _connecting;
        volatile Exception _connectError;
        volatile bool _connectDone;
        readonly List<LinkEvent> _linkEvents = new List<LinkEvent>();
        readonly List<StreamEvent> _streamEvents = new List<StreamEvent>();

        void OnEnable()
        {
            Live.Add(this);
            if (connectOnEnable) Connect();
        }

        void OnDisable()
        {
            Disconnect();
            Live.Remove(this);
        }

        /// <summary>Close every client's socket: play-mode exit and domain reload call this, so no
        /// background thread outlives the scene.</summary>
        public static void CloseAll()
        {
            foreach (var client in Live.ToArray()) client.Disconnect();
        }

        /// <summary>Start connecting (hello and open) without blocking; Connected or Error follows
        /// on the main thread. Lines said before then are dropped with a warning.</summary>
        public void Connect()
        {
            if (Link != null || _connecting != null) return;
            AvatarLink link;
            try
            {
                link = new AvatarLink(endpoint, new AvatarLinkOptions
                {
                    ClientName = "unity " + Application.unityVersion + " " + name,
                    Fps = fps,
                    Voice = string.IsNullOrEmpty(voice) ? null : voice,
                });
            }
            catch (ArgumentException ex)   // a malformed endpoint: say so at once
            {
                Debug.LogError("avbridge: " + ex.Message, this);
                if (Error != null) Error("bad_endpoint", ex.Message);
                return;
            }
            _connectError = null;
            _connectDone = false;
            _connecting = link;
            System.Threading.ThreadPool.QueueUserWorkItem(_ =>
            {
                try { link.Connect(); }
                catch (Exception ex) { _connectError = ex; }
                _connectDone = true;
            });
        }

        public void Disconnect()
        {
            var pending = _connecting;
            _connecting = null;
            if (pending != null) pending.Dispose();   // its thread gives up; nothing is left running
            if (Link == null) return;
            Link.Dispose();
            Link = null;
        }

        void FinishConnecting()
        {
            var link = _connecting;
            if (link == null || !_connectDone) return;
            _connecting = null;
            if (_connectError != null)
            {
                link.Dispose();
                Debug.LogError("avbridge: " + _connectError.Message, this);
                if (Error != null) Error("not_connected", _connectError.Message);
                return;
            }
            Link = link;
            if (Connected != null) Connected();
        }

        public void Say(string text, string emotion = null) { Call(() => Link.Say(text, emotion)); }

        public void Interrupt() { Call(() => Link.Interrupt()); }

        public void SetEmotion(string emotion, float intensity = 0.7f) { Call(() => Link.SetEmotion(emotion, intensity)); }

        /// <summary>While the reply is being worked out (say, an LLM call): the avatar looks away to think.</summary>
        public void SetThinking(bool thinking) { Call(() => Link.SetThinking(thinking)); }

        /// <summary>Animate speech this game plays itself (a recorded line): send it in pieces,
        /// then report playback with ReportPlayback.</summary>
        public void SpeakAudio(string utterance, short[] pcm, int sampleRate, long offset, bool final)
        {
            Call(() => Link.SpeakAudio(utterance, pcm, sampleRate, offset, final));
        }

        public void ReportPlayback(string utterance, double seconds)
        {
            if (Link != null) Link.Stream.SetExternalPlayhead(utterance, seconds);
        }

        void Call(Func<long> request)
        {
            if (Link == null)
            {
                Debug.LogWarning("avbridge: not connected to " + endpoint + (IsConnecting ? " yet" : ""), this);
                return;
            }
            try { request(); }
            catch (AvatarLinkException ex)
            {
                if (Error != null) Error(ex.Code, ex.Message);
            }
        }

        void Update()
        {
            FinishConnecting();
            if (Link == null) return;
            _linkEvents.Clear();
            Link.Poll(_linkEvents);
            foreach (var e in _linkEvents) Dispatch(e);
            IsSpeaking = Link.SampleFrame(CurrentFrame, Time.deltaTime);
            _streamEvents.Clear();
            Link.Stream.PollEvents(_streamEvents);
            foreach (var e in _streamEvents) Dispatch(e);
        }

        void Dispatch(LinkEvent e)
        {
            switch (e.Kind)
            {
                case LinkEventKind.Disconnected: if (Disconnected != null) Disconnected(e.Text); break;
                case LinkEventKind.Reconnected: if (Reconnected != null) Reconnected(e.Text); break;
                case LinkEventKind.Error:
                    Debug.LogWarning("avbridge: " + e.Code + ": " + e.Text, this);
                    if (Error != null) Error(e.Code, e.Text);
                    break;
            }
        }

        void Dispatch(StreamEvent e)
        {
            switch (e.Name)
            {
                case "started": if (UtteranceStarted != null) UtteranceStarted(e.Utterance); break;
                case "finished": if (UtteranceFinished != null) UtteranceFinished(e.Utterance, false); break;
                case "interrupted": if (UtteranceFinished != null) UtteranceFinished(e.Utterance, true); break;
                case "word": if (Word != null) Word(e.Text); break;
                case "phoneme": if (Phoneme != null) Phoneme(e.Text); break;
                case "emotion": if (Emotion != null) Emotion(e.Text); break;
            }
        }
    }
}
