// Plays the streamed speech through this GameObject's AudioSource (so it is 3D, mixed and
// attenuated like any other sound) and, by reading it, moves the playhead the face follows.
//
// The speech is written in OnAudioFilterRead over a silent clip. With a spatializer plugin the
// source must spatialize after its filters, or the speech replaces the spatialized signal
// (AudioRouting): that is switched on here. The output rate and latency are read again when the
// audio device changes (a Bluetooth headset connecting).
using Avbridge.Core.Audio;
using UnityEngine;

namespace Avbridge.Unity
{
    [RequireComponent(typeof(AudioSource))]
    [AddComponentMenu("avbridge/Avbridge Audio Player")]
    public sealed class AvbridgeAudioPlayer : MonoBehaviour
    {
        public AvbridgeClient client;
        [Tooltip("Latency after Unity's own buffers, seconds (a Bluetooth headset: 0.1-0.25). The face waits this long for the voice.")]
        public float extraOutputLatency = 0f;

        volatile int _outputRate;
        volatile AvbridgeClient _audioThreadClient;
        AudioSource _source;
        AudioClip _silence;

        void Awake()
        {
            if (client == null) client = GetComponentInParent<AvbridgeClient>();
            _source = GetComponent<AudioSource>();
        }

        void OnEnable()
        {
            ReadConfiguration();
            AudioSettings.OnAudioConfigurationChanged += OnAudioConfigurationChanged;
            _audioThreadClient = client;
            if (AudioRouting.NeedsSpatializePostEffects(AudioSettings.GetSpatializerPluginName(), _source.spatialize) && !_source.spatializePostEffects)
            {
                _source.spatializePostEffects = true;
                Debug.Log("avbridge: " + name + ": spatializePostEffects turned on so the " + AudioSettings.GetSpatializerPluginName()
                          + " spatializer hears the speech (it is written in OnAudioFilterRead)", this);
            }
            // OnAudioFilterRead runs only while the source plays: a silent looping clip, made once.
            if (_silence == null) _silence = AudioClip.Create("avbridge-stream", 1024, 1, _outputRate, false);
            _source.clip = _silence;
            _source.loop = true;
            _source.Play();
        }

        void OnDisable()
        {
            AudioSettings.OnAudioConfigurationChanged -= OnAudioConfigurationChanged;
            _audioThreadClient = null;
            _source.Stop();
        }

        void OnDestroy()
        {
            if (_silence != null) Destroy(_silence);
        }

        void ReadConfiguration()
        {
            _outputRate = AudioSettings.outputSampleRate;
            int length, buffers;
            AudioSettings.GetDSPBufferSize(out length, out buffers);
            var link = client != null ? client.Link : null;
            if (link != null) link.Stream.OutputLatencySeconds = AudioRouting.OutputLatency(length, buffers, _outputRate, extraOutputLatency);
        }

        void OnAudioConfigurationChanged(bool deviceWasChanged)
        {
            ReadConfiguration();
            // A device change can stop every playing source; ours must keep running.
            if (isActiveAndEnabled && !_source.isPlaying) _source.Play();
        }

        void Update()
        {
            // The link changes on connect and reconnect; its latency is set on the main thread.
            var link = client != null ? client.Link : null;
            if (link != null && link != _configuredLink) { _configuredLink = link; ReadConfiguration(); }
        }

        Core.AvatarLink _configuredLink;

        // Audio thread. Resampling from the voice's rate to the output rate happens in ReadAudio.
        void OnAudioFilterRead(float[] data, int channels)
        {
            var c = _audioThreadClient;
            var link = c != null ? c.Link : null;
            if (link == null)
            {
                System.Array.Clear(data, 0, data.Length);
                return;
            }
            link.Stream.ReadAudio(data, _outputRate, channels);
        }
    }
}
