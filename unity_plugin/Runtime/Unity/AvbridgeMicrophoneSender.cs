// Telepresence: streams this machine's microphone to the server as the avatar's own speech
// (speak_audio), so the avatar's lips follow the person's voice. The voice itself is not played
// here; it travels through your game's voice chat as usual.
using System;
using UnityEngine;

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

        AudioClip _clip;
        int _readPosition;
        long _sent;
        string _utterance;

        void Start()
        {
            if (client == null) client = GetComponentInParent<AvbridgeClient>();
        }

        void OnEnable()
        {
            string dev = string.IsNullOrEmpty(device) ? null : device;
            _clip = Microphone.Start(dev, true, 2, sampleRate);
            _readPosition = 0;
            _sent = 0;
            _utterance = "mic-" + Guid.NewGuid().ToString("N").Substring(0, 8);
        }

        void OnDisable()
        {
            Microphone.End(string.IsNullOrEmpty(device) ? null : device);
            if (client != null && client.IsConnected && _sent > 0)
                client.SpeakAudio(_utterance, new short[0], sampleRate, _sent, true);
        }

        void Update()
        {
            if (_clip == null || client == null || !client.IsConnected) return;
            int position = Microphone.GetPosition(string.IsNullOrEmpty(device) ? null : device);
            int available = (position - _readPosition + _clip.samples) % _clip.samples;
            if (available < sampleRate / 50) return;   // send 20 ms or more at a time
            var samples = new float[available];
            _clip.GetData(samples, _readPosition);
            var pcm = new short[available];
            for (int i = 0; i < available; i++) pcm[i] = (short)(Mathf.Clamp(samples[i], -1f, 1f) * 32767f);
            client.SpeakAudio(_utterance, pcm, sampleRate, _sent, false);
            _sent += available;
            _readPosition = (_readPosition + available) % _clip.samples;
            client.ReportPlayback(_utterance, Math.Max(0, (double)_sent / sampleRate - displayDelay));
        }
    }
}
