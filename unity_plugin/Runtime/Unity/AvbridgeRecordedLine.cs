// A voice line the game plays itself (a recorded AudioClip on an AudioSource), animated by the
// server: Play(clip) sends the clip's samples, reports the source's playhead each frame, and ends
// the line when the source stops. AudioSource.time never reaches the clip's length (it wraps to 0
// when the clip ends), so waiting for the last frame would leave the line speaking for ever.
using Avbridge.Core;
using UnityEngine;

namespace Avbridge.Unity
{
    [RequireComponent(typeof(AudioSource))]
    [AddComponentMenu("avbridge/Avbridge Recorded Line")]
    public sealed class AvbridgeRecordedLine : MonoBehaviour
    {
        public AvbridgeClient client;
        [Tooltip("Optional: the line's text, for better lips (the server aligns it to the audio).")]
        public string subtitle = "";

        AudioSource _source;
        string _utterance;
        bool _started;

        public SpeechHandle Current { get; private set; }

        void Awake()
        {
            if (client == null) client = GetComponentInParent<AvbridgeClient>();
            _source = GetComponent<AudioSource>();
        }

        /// <summary>Send `clip` to be animated and play it on this AudioSource.</summary>
        public SpeechHandle Play(AudioClip clip)
        {
            Stop();
            _utterance = AvatarLink.NewUtteranceId();
            // A clip's samples, downmixed to mono, in pieces the server takes (a second each).
            var samples = new float[clip.samples * clip.channels];
            clip.GetData(samples, 0);
            int frames = clip.samples, rate = clip.frequency, piece = rate;
            var pcm = new short[piece];
            for (int start = 0; start < frames || start == 0; start += piece)
            {
                int n = System.Math.Min(piece, frames - start);
                for (int i = 0; i < n; i++)
                {
                    float sum = 0;
                    for (int c = 0; c < clip.channels; c++) sum += samples[(start + i) * clip.channels + c];
                    float v = sum / clip.channels;
                    pcm[i] = (short)((v < -1f ? -1f : v > 1f ? 1f : v) * 32767f);
                }
                Current = client.SpeakAudio(_utterance, pcm, n, rate, start, start + piece >= frames);
                if (n <= 0) break;
            }
            _source.clip = clip;
            _source.loop = false;
            _source.Play();
            _started = true;
            return Current;
        }

        public void Stop()
        {
            if (_utterance != null && client != null) client.FinishPlayback(_utterance);
            if (_started) _source.Stop();
            _utterance = null;
            _started = false;
        }

        void Update()
        {
            if (_utterance == null || client == null) return;
            if (_source.isPlaying) client.ReportPlayback(_utterance, _source.time);
            else Stop();   // the clip ended (or something stopped it): the line is over
        }

        void OnDisable() { Stop(); }
    }
}
