// How the streamed speech reaches the listener through a Unity AudioSource, decided without the
// engine so it can be tested.
//
// The speech is written in OnAudioFilterRead. With a spatializer plugin (Meta XR Audio, Steam
// Audio, Resonance) the spatializer runs before the source's filters unless spatializePostEffects
// is on, so the speech would overwrite the spatialized signal: no HRTF, no distance attenuation.
// With spatializePostEffects on, the filter's output is what gets spatialized. Unity's built-in
// panner applies panning and attenuation after the filters either way.
namespace Avbridge.Core.Audio
{
    public static class AudioRouting
    {
        /// <summary>True when the source must have spatializePostEffects turned on: a spatializer
        /// plugin is selected in the project and the source uses it.</summary>
        public static bool NeedsSpatializePostEffects(string spatializerPluginName, bool sourceSpatializes)
        {
            return sourceSpatializes && !string.IsNullOrEmpty(spatializerPluginName);
        }

        /// <summary>Seconds from OnAudioFilterRead filling a buffer to the listener hearing its
        /// start: the buffers queued ahead of it (AudioSettings.GetDSPBufferSize) plus what the
        /// platform adds after Unity (a Bluetooth headset: 0.1 to 0.25 s, set by the game).</summary>
        public static double OutputLatency(int bufferLength, int numBuffers, int outputRate, double extraSeconds)
        {
            if (outputRate <= 0 || bufferLength <= 0) return extraSeconds;
            int queued = numBuffers > 1 ? numBuffers - 1 : 1;
            return (double)bufferLength * queued / outputRate + extraSeconds;
        }
    }
}
