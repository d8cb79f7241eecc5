// Plays the streamed speech through this GameObject's AudioSource (so it is 3D, mixed and
// attenuated like any other sound) and, by reading it, moves the playhead the face follows.
using UnityEngine;

namespace Avbridge.Unity
{
    [RequireComponent(typeof(AudioSource))]
    [AddComponentMenu("avbridge/Avbridge Audio Player")]
    public sealed class AvbridgeAudioPlayer : MonoBehaviour
    {
        public AvbridgeClient client;
        int _outputRate;
        volatile AvbridgeClient _audioThreadClient;

        void Awake()
        {
            if (client == null) client = GetComponentInParent<AvbridgeClient>();
        }

        void OnEnable()
        {
            _outputRate = AudioSettings.outputSampleRate;
            _audioThreadClient = client;
            var source = GetComponent<AudioSource>();
            // OnAudioFilterRead runs only while the source plays: give it a silent looping clip
            // whose samples are replaced by the stream.
            source.clip = AudioClip.Create("avbridge-stream", _outputRate, 1, _outputRate, false);
            source.loop = true;
            source.Play();
        }

        void OnDisable()
        {
            _audioThreadClient = null;
            GetComponent<AudioSource>().Stop();
        }

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
