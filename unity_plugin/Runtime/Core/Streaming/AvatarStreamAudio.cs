// AvatarStream, continued: the audio thread's side (reading, resampling, underruns, the end of
// a line being heard).
using System;

namespace Avbridge.Core.Streaming
{
    public sealed partial class AvatarStream
    {
        // -- audio thread ---------------------------------------------------------------------------
        /// <summary>Fill `output` (interleaved, `channels` channels at `outputRate`) and advance the
        /// read position. Silence when nothing is ready; an underrun fades out over 5 ms, holds the
        /// position, and fades back in once PrebufferSeconds more have arrived.</summary>
        public void ReadAudio(float[] output, int outputRate, int channels)
        {
            lock (_lock)
            {
                int frames = output.Length / channels;
                float fadeStep = 1f / (0.005f * outputRate);
                int i = 0;
                while (i < frames)
                {
                    if (_current == null && !StartNext()) break;
                    var u = _current;
                    long limit = Math.Min(u.Audio.Written, u.SampleLimit);
                    double from = u.Playhead, step = (double)u.SampleRate / outputRate;
                    int segmentStart = i;
                    for (; i < frames; i++)
                    {
                        long index = (long)u.Playhead;
                        if (index >= limit - 1) break;
                        double frac = u.Playhead - index;
                        float value = (float)(u.Audio[index] * (1 - frac) + u.Audio[index + 1] * frac);
                        if (_gain < 1f) _gain = Math.Min(1f, _gain + fadeStep);
                        _held = value;
                        value *= _gain;
                        for (int c = 0; c < channels; c++) output[i * channels + c] = value;
                        u.Playhead += step;
                    }
                    _heard.Record(u, _audioClock + (double)segmentStart / outputRate, from, u.Playhead, u.SampleRate);
                    u.Audio.ReleaseBefore((long)u.Playhead - 1);
                    if (i == frames) break;
                    if (u.Ended)   // no audio follows an end: read to its end
                    {
                        u.DoneReading = true;
                        u.DoneAt = _audioClock + (double)i / outputRate;
                        _current = null;
                        if (_draining != null) FinishPlayback(_draining);
                        _draining = u;
                        continue;
                    }
                    // Underrun: wait for the network, with a bigger buffer next time.
                    u.Rebuffering = true;
                    Underruns++;
                    PrebufferSeconds = Math.Min(MaxPrebufferSeconds, PrebufferSeconds + 0.05);
                    _current = null;
                    break;
                }
                for (; i < frames; i++)   // silence, reached through a short fade from the last sample
                {
                    _gain = Math.Max(0f, _gain - fadeStep);
                    for (int c = 0; c < channels; c++) output[i * channels + c] = _held * _gain;
                }
                _audioClock += (double)frames / outputRate;
                _wallAtRead = Clock();
                _lastBufferSeconds = (double)frames / outputRate;
                if (_draining != null && _audioClock >= _draining.DoneAt + _heard.LatencySeconds) FinishPlayback(_draining);
            }
        }

        bool StartNext()
        {
            foreach (var u in _queue)
            {
                if (!u.HasAudio || u.DoneReading) continue;
                long have = Math.Min(u.Audio.Written, u.SampleLimit) - (long)u.Playhead;
                bool ready = u.Ended || have >= PrebufferSeconds * u.SampleRate;
                if (!ready) return false;   // utterances play in order
                _current = u;
                u.Rebuffering = false;
                if (!u.Started)
                {
                    u.Started = true;
                    u.StartOrder = ++_starts;
                    _events.Add(new StreamEvent { Utterance = u.Id, Name = "started", Time = 0 });
                    // A recorded line whose stream has ended gives way to the next line (its
                    // engine may never report the very last frame).
                    foreach (var other in _queue) if (other.External && other.Ended && other.Started) { FinishPlayback(other); break; }
                }
                return true;
            }
            return false;
        }

        void FinishPlayback(Utterance u)
        {
            DueEvents(u, double.MaxValue);
            Stopped(u, u.Status == "interrupted" ? "interrupted" : "finished");
            _queue.Remove(u);
            if (_current == u) _current = null;
            if (_draining == u) _draining = null;
        }

    }
}
