// Telepresence: streams this machine's microphone to the server as the avatar's own speech
// (speak_audio), so the avatar's lips follow the person's voice. The voice itself is not played
// here; it travels through your game's voice chat as usual. Disabling it (mute) ends the line at
// once, so the face relaxes instead of holding its last pose.
using System;
using Avbridge.Core.Audio;
using UnityEngine;
#if UNITY_ANDROID
using UnityEngine.Android;
#endif

namespace Avbridge.Unity
{
    [AddComponentMenu("avbridge/Avbridge Microphone Sender")]
    public sealed class AvbridgeMicrophoneSender : MonoBehaviour
    {
        public AvbridgeClient client;
        [Tooltip("Empty: the default microphone.")]
        public string device = "";
        public int sampleRate = 16000;
        [Tooltip("How far behind the live voice the face is shown, seconds: the server's round trip.")]
        public float displayDelay = 0.1f;

        const int ClipSeconds = 2;
        AudioClip _clip;
        MicrophoneReader _reader;
        int _rate;                 // what the device gave (Microphone.Start may not honour sampleRate)
        string _utterance;
        Func<float[], int, bool> _getData;

        string Device { get { return string.IsNullOrEmpty(device) ? null : device; } }

        void Awake()
        {
            if (client == null) client = GetComponentInParent<AvbridgeClient>();
            _getData = (buffer, offset) => _clip.GetData(buffer, offset);
        }

        void OnEnable()
        {
#if UNITY_ANDROID
            // Android and Quest ask the person first; recording starts once they say yes.
            if (!Permission.HasUserAuthorizedPermission(Permission.Microphone)) Permission.RequestUserPermission(Permission.Microphone);
#elif UNITY_IOS
            if (!Application.HasUserAuthorization(UserAuthorization.Microphone)) Application.RequestUserAuthorization(UserAuthorization.Microphone);
#endif
            _clip = null;
            _utterance = null;
        }

        bool Authorized
        {
            get
            {
#if UNITY_ANDROID
                return Permission.HasUserAuthorizedPermission(Permission.Microphone);
#elif UNITY_IOS
                return Application.HasUserAuthorization(UserAuthorization.Microphone);
#else
                return true;
#endif
            }
        }

        void OnDisable()
        {
            if (_clip != null) Microphone.End(Device);
            if (_clip != null) Destroy(_clip);
            _clip = null;
            if (client != null && _utterance != null && _reader != null)
            {
                client.FinishPlayback(_utterance);   // the face lets go now, not when the server's end arrives
                if (client.IsConnected && _reader.Sent > 0) client.SpeakAudio(_utterance, new short[0], 0, _rate, _reader.Sent, true);
            }
            _utterance = null;
        }

        void Update()
        {
            if (client == null || !client.IsConnected) return;
            if (_clip == null)
            {
                if (!Authorized) return;
                _clip = Microphone.Start(Device, true, ClipSeconds, sampleRate);
                if (_clip == null) return;
                _rate = _clip.frequency;
                if (_reader == null || _reader.ClipSamples != _clip.samples) _reader = new MicrophoneReader(_clip.samples);
                _reader.Restart(Microphone.GetPosition(Device));
                _utterance = "mic-" + Guid.NewGuid().ToString("N").Substring(0, 8);
                return;
            }
            int count;
            var pcm = _reader.Read(Microphone.GetPosition(Device), _rate / 50, _getData, out count);   // 20 ms or more at a time
            if (pcm == null) return;
            client.SpeakAudio(_utterance, pcm, count, _rate, _reader.Sent - count, false);
            client.ReportPlayback(_utterance, Math.Max(0, (double)_reader.Sent / _rate - displayDelay));
        }
    }
}
