// The avatar's connection: add one to an NPC, call Say("Hello"). Everything that listens to it
// (audio player, blendshape, VRM and head drivers) reads CurrentFrame or its events, all on the
// main thread. The logic is Core's AvatarController (tested without Unity); this is its shell:
// settings, UnityEvents, the engine's clock, pause and focus.
using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using Avbridge.Core;
using Avbridge.Core.Zmtp.Curve;
using UnityEngine;
using UnityEngine.Events;

namespace Avbridge.Unity
{
    [Serializable] public sealed class UtteranceEvent : UnityEvent<string> { }
    [Serializable] public sealed class UtteranceFinishedEvent : UnityEvent<string, bool> { }
    [Serializable] public sealed class TextEvent : UnityEvent<string> { }

    [DisallowMultipleComponent]
    [AddComponentMenu("avbridge/Avbridge Client")]
    public sealed class AvbridgeClient : MonoBehaviour
    {
        [Tooltip("Connection settings shared between avatars; when empty, the fields below are used.")]
        public AvbridgeConnectionProfile profile;
        [Tooltip("The server's control endpoint (avbridge serve --bind).")]
        public string endpoint = "tcp://127.0.0.1:5570";
        [Tooltip("Animation frames per second the server generates.")]
        public float fps = 60f;
        [Tooltip("piper (natural) or espeak (instant, robotic); empty for the server's default.")]
        public string voice = "";
        public bool connectOnEnable = true;
        [Tooltip("Without a profile: the server's public key (40 z85 characters or its .key file); empty for plaintext.")]
        public string serverPublicKey = "";
        [Tooltip("Without a profile: this client's .key_secret file (absolute, or relative to StreamingAssets).")]
        public string clientKeyFile = "";

        [Header("Events (utterance ids match SpeechHandle.Id)")]
        public UtteranceEvent onUtteranceStarted = new UtteranceEvent();
        public UtteranceFinishedEvent onUtteranceFinished = new UtteranceFinishedEvent();   // id, interrupted or failed
        public TextEvent onWord = new TextEvent();
        public TextEvent onPhoneme = new TextEvent();

        public event Action Connected;
        public event Action<string> Disconnected;
        public event Action<string> Reconnected;
        public event Action<string, string> Error;               // code, sentence
        public event Action<SpeechHandle> UtteranceQueued;
        public event Action<SpeechHandle> UtteranceStarted;      // its audio starts playing
        public event Action<SpeechHandle> UtteranceFinished;     // see handle.State: Finished, Interrupted or Failed
        public event Action<string> Word;                        // as the playhead reaches it
        public event Action<string> Phoneme;
        public event Action<string> Emotion;                     // with emotion "auto": the one chosen for each sentence

        public AvatarController Controller { get; private set; }
        public AvatarLink Link { get { return Controller != null ? Controller.Link : null; } }
        public bool IsConnected { get { return Controller != null && Controller.IsConnected; } }
        public ConnectionState State { get { return Controller != null ? Controller.State : ConnectionState.Disconnected; } }

        /// <summary>The frame at the audio playhead this Update (63 floats; see SPEC.md 8.3).</summary>
        public float[] CurrentFrame { get { return Controller != null ? Controller.CurrentFrame : Neutral; } }
        public bool IsSpeaking { get { return Controller != null && Controller.IsSpeaking; } }

        static readonly float[] Neutral = Core.Streaming.AvatarStream.Neutral();
        static readonly List<AvbridgeClient> Live = new List<AvbridgeClient>();

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
        /// on the main thread. While the server cannot be reached it tries again every retrySeconds.</summary>
        public void Connect()
        {
            string ep = profile != null ? profile.endpoint : endpoint;
            if (Controller != null && Controller.Endpoint == ep) { Controller.Connect(); return; }
            if (Controller != null) Controller.Disconnect();   // the endpoint (or profile) changed: a new controller
            var options = new AvatarLinkOptions
            {
                ClientName = "unity " + Application.unityVersion + " " + name,
                Fps = profile != null ? profile.fps : fps,
            };
            string v = profile != null ? profile.voice : voice;
            options.Voice = string.IsNullOrEmpty(v) ? null : v;
            if (profile != null) options.Zmtp.HeartbeatTimeoutMs = (int)(profile.heartbeatTimeoutSeconds * 1000);
            string keyError;
            if (!CurveKeyPair.TryConfigure(KeyPath(profile != null ? profile.serverPublicKey : serverPublicKey),
                                           KeyPath(profile != null ? profile.clientKeyFile : clientKeyFile), options.Zmtp, out keyError))
            {
                Debug.LogError("avbridge: " + keyError, this);
                if (Error != null) Error("bad_keys", keyError);
                return;
            }
            try
            {
                Controller = new AvatarController(options, ep);
            }
            catch (ArgumentException ex)   // a malformed endpoint: say so at once
            {
                Debug.LogError("avbridge: " + ex.Message, this);
                if (Error != null) Error("bad_endpoint", ex.Message);
                return;
            }
            if (profile != null) Controller.RetrySeconds = profile.retrySeconds;
            Wire(Controller);
            Controller.Connect();
        }

        /// <summary>A key file named relative to StreamingAssets (where a build keeps it), or a
        /// key itself (40 characters), as given.</summary>
        static string KeyPath(string value)
        {
            value = (value ?? "").Trim();
            if (value.Length == 0 || value.Length == 40 || System.IO.Path.IsPathRooted(value)) return value;
            return System.IO.Path.Combine(Application.streamingAssetsPath, value);
        }

        /// <summary>Close the session. Never waits for a server that is down.</summary>
        public void Disconnect()
        {
            if (Controller != null) Controller.Disconnect();
        }

        void Wire(AvatarController c)
        {
            c.Connected += () => { if (Connected != null) Connected(); };
            c.Disconnected += why => { if (Disconnected != null) Disconnected(why); };
            c.Reconnected += why => { if (Reconnected != null) Reconnected(why); };
            c.Error += (code, sentence) =>
            {
                Debug.LogWarning("avbridge: " + code + ": " + sentence, this);
                if (Error != null) Error(code, sentence);
            };
            c.UtteranceQueued += h => { if (UtteranceQueued != null) UtteranceQueued(h); };
            c.UtteranceStarted += h =>
            {
                if (UtteranceStarted != null) UtteranceStarted(h);
                onUtteranceStarted.Invoke(h.Id);
            };
            c.UtteranceFinished += h =>
            {
                if (UtteranceFinished != null) UtteranceFinished(h);
                onUtteranceFinished.Invoke(h.Id, h.State != SpeechState.Finished);
            };
            c.Word += (id, word) => { if (Word != null) Word(word); onWord.Invoke(word); };
            c.Phoneme += (id, phoneme) => { if (Phoneme != null) Phoneme(phoneme); onPhoneme.Invoke(phoneme); };
            c.Emotion += (id, emotion) => { if (Emotion != null) Emotion(emotion); };
        }

        /// <summary>Say a line (queued after any line in progress). The handle's Id matches every
        /// event for this line; its State and Completion say how it ended.</summary>
        public SpeechHandle Say(string text, string emotion = null)
        {
            if (Controller == null) return Failed(text);
            return Controller.Say(text, emotion);
        }

        /// <summary>`await client.SayAsync("...")`: Finished, Interrupted or Failed, on the main thread.</summary>
        public Task<SpeechState> SayAsync(string text, string emotion = null) { return Say(text, emotion).Completion; }

        SpeechHandle Failed(string text)
        {
            Debug.LogWarning("avbridge: not connected (no valid endpoint)", this);
            return SpeechHandle.Refused(AvatarLink.NewUtteranceId(), text, "not_connected", "no valid endpoint");
        }

        public void Interrupt() { if (Controller != null) Controller.Interrupt(); }

        public void SetEmotion(string emotion, float intensity = 0.7f) { if (Controller != null) Controller.SetEmotion(emotion, intensity); }

        /// <summary>Where eye contact is, radians from straight ahead (yaw > 0: the avatar's left;
        /// pitch > 0: down). AvbridgeHeadEyeDriver.gazeTarget sends it for you.</summary>
        public void SetGazeTarget(float yaw, float pitch) { if (Controller != null) Controller.SetGazeTarget(yaw, pitch); }

        /// <summary>While the reply is being worked out (say, an LLM call): the avatar looks away to think.</summary>
        public void SetThinking(bool thinking) { if (Controller != null) Controller.SetThinking(thinking); }

        /// <summary>Animate speech this game plays itself (a recorded line): send it in pieces,
        /// report playback with ReportPlayback, and FinishPlayback when it stops
        /// (AvbridgeRecordedLine does all three for an AudioSource).</summary>
        public SpeechHandle SpeakAudio(string utterance, short[] pcm, int count, int sampleRate, long offset, bool final)
        {
            return Controller != null ? Controller.SpeakAudio(utterance, pcm, count, sampleRate, offset, final) : Failed(null);
        }

        public void ReportPlayback(string utterance, double seconds) { if (Controller != null) Controller.ReportPlayback(utterance, seconds); }

        public void FinishPlayback(string utterance) { if (Controller != null) Controller.FinishPlayback(utterance); }

        void Update()
        {
            if (Controller != null) Controller.Update(Time.unscaledDeltaTime);
        }

        // A suspended app (Quest taken off, Android in the background) plays nothing: lines are cut
        // rather than piling up, and the clock is checked on the way back.
        void OnApplicationPause(bool paused) { if (Controller != null) Controller.SetPaused(paused); }
    }
}
