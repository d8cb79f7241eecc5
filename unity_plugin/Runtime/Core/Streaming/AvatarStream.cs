// The client's jitter buffer: utterances as they arrive from the network, played back with audio
// as the master clock.
//
// Three threads meet here, under one lock, each for a short time:
//   network thread  Begin / AddAudio / AddFrames / AddEvent / End   (from AvatarLink)
//   audio thread    ReadAudio: resamples to the output rate and advances the playhead
//   main thread     SampleFrame: the animation frame at the playhead; PollEvents
// The frame shown is always the one at the audio playhead, so network jitter never shows as
// lip-sync error. For speech the engine plays itself (speak_audio), the engine reports the playhead.
using System;
using System.Collections.Generic;

namespace Avbridge.Core.Streaming
{
    public struct StreamEvent
    {
        public string Utterance;
        public string Name;      // utterance_start, word, phoneme, utterance_end, or playback: started, finished, interrupted
        public string Text;      // the word, or the phoneme
        public double Time;      // seconds from the utterance start
    }

    public sealed class AvatarStream
    {
        public const int FrameWidth = 63;
        sealed class Utterance
        {
            public string Id;
            public int SampleRate;
            public double Fps;
            public bool HasAudio;
            public float[] Audio = new float[0];
            public long AudioWritten;
            public readonly List<float[]> Frames = new List<float[]>();
            public readonly List<StreamEvent> Events = new List<StreamEvent>();
            public int NextEvent;
            public bool Ended;
            public string Status;
            public long SampleLimit = long.MaxValue;
            public long FrameLimit = long.MaxValue;
            public double Playhead;          // in source samples
            public bool Started;
            public long FrameOffset;         // idle streams drop frames behind the playhead
            public double StartTime;         // idle streams: on the session clock
        }

        readonly object _lock = new object();
        readonly List<Utterance> _queue = new List<Utterance>();
        readonly List<StreamEvent> _events = new List<StreamEvent>();
        readonly float[] _shown = Neutral();
        Utterance _current;
        readonly List<Utterance> _idle = new List<Utterance>();
        string _externalId;
        double _externalSeconds;

        /// <summary>Seconds of audio an utterance must have buffered before it starts playing
        /// (unless its stream has already ended). The server's playout delay is 0.1 s.</summary>
        public double PrebufferSeconds = 0.08;

        /// <summary>Time constant of the ease back to neutral after speech or an interrupt.</summary>
        public double EaseSeconds = 0.12;

        public static float[] Neutral()
        {
            var f = new float[FrameWidth];
            f[55] = 1f;   // identity quaternion w
            return f;
        }

        // -- network thread ---------------------------------------------------------------------
        public void Begin(string id, int sampleRate, double fps, bool hasAudio)
        {
            lock (_lock) _queue.Add(new Utterance { Id = id, SampleRate = sampleRate, Fps = fps, HasAudio = hasAudio });
        }

        /// <summary>An idle stream (breathing, sway, blinks while nothing is said), shown at the
        /// session time because no audio drives it.</summary>
        public void BeginIdle(string id, double fps, double sessionStart)
        {
            lock (_lock) _idle.Add(new Utterance { Id = id, Fps = fps, HasAudio = false, StartTime = sessionStart });
        }

        /// <summary>int16 little-endian PCM at sample `offset` of the utterance.</summary>
        public void AddAudio(string id, long offset, byte[] pcm)
        {
            lock (_lock)
            {
                var u = Find(id);
                if (u == null || offset != u.AudioWritten) return;   // unknown, or out of order: drop
                int n = pcm.Length / 2;
                EnsureCapacity(u, u.AudioWritten + n);
                for (int i = 0; i < n; i++) u.Audio[u.AudioWritten + i] = (short)(pcm[2 * i] | (pcm[2 * i + 1] << 8)) / 32768f;
                u.AudioWritten += n;
            }
        }

        /// <summary>count x 63 float32 little-endian frames starting at frame `first`.</summary>
        public void AddFrames(string id, long first, int count, byte[] data)
        {
            lock (_lock)
            {
                var u = Find(id) ?? FindIdle(id);
                if (u == null || first != u.FrameOffset + u.Frames.Count) return;
                for (int i = 0; i < count; i++)
                {
                    var frame = new float[FrameWidth];
                    Buffer.BlockCopy(data, i * FrameWidth * 4, frame, 0, FrameWidth * 4);
                    if (!BitConverter.IsLittleEndian) SwapFloats(frame);
                    u.Frames.Add(frame);
                }
            }
        }

        public void AddEvent(string id, string name, string text, double secondsFromStart)
        {
            lock (_lock)
            {
                var u = Find(id);
                if (u != null) u.Events.Add(new StreamEvent { Utterance = id, Name = name, Text = text, Time = secondsFromStart });
            }
        }

        /// <summary>The stream's end. For status "interrupted", samples and frames from
        /// `samples` / `frames` on are discarded, even if they were already buffered.</summary>
        public void End(string id, string status, long frames, long samples)
        {
            lock (_lock)
            {
                var u = Find(id) ?? FindIdle(id);
                if (u == null) return;
                u.Ended = true;
                u.Status = status;
                // Whatever the status, these counts are what belongs to the utterance: the server
                // may have sent more ahead of a cut (an interrupt, or speech ending an idle stream).
                if (u.HasAudio) u.SampleLimit = Math.Min(u.SampleLimit, samples);
                u.FrameLimit = Math.Min(u.FrameLimit, frames);
            }
        }

        /// <summary>Stop at once, locally (the server's cut follows): everything buffered is dropped.</summary>
        public void InterruptNow()
        {
            lock (_lock)
            {
                foreach (var u in _queue)
                {
                    if (u.Started) _events.Add(new StreamEvent { Utterance = u.Id, Name = "interrupted", Time = u.Playhead / u.SampleRate });
                }
                _queue.Clear();
                _current = null;
                _externalId = null;
            }
        }

        public void Clear()
        {
            InterruptNow();
            lock (_lock) _idle.Clear();
        }

        // -- audio thread ---------------------------------------------------------------------------
        /// <summary>Fill `output` (interleaved, `channels` channels at `outputRate`) and advance the
        /// playhead. Silence when nothing is ready; an underrun holds the playhead.</summary>
        public void ReadAudio(float[] output, int outputRate, int channels)
        {
            lock (_lock)
            {
                int frames = output.Length / channels;
                for (int i = 0; i < frames; i++)
                {
                    float sample = NextSample(outputRate);
                    for (int c = 0; c < channels; c++) output[i * channels + c] = sample;
                }
            }
        }

        float NextSample(int outputRate)
        {
            if (_current == null && !StartNext()) return 0f;
            var u = _current;
            long limit = Math.Min(u.AudioWritten, u.SampleLimit);
            long index = (long)u.Playhead;
            if (index >= limit - 1)
            {
                if (u.Ended)   // no audio follows an end: this utterance is done
                {
                    Finish(u);
                    return _current != null || StartNext() ? NextSample(outputRate) : 0f;
                }
                return 0f;   // underrun: wait for the network
            }
            double frac = u.Playhead - index;
            float value = (float)(u.Audio[index] * (1 - frac) + u.Audio[index + 1] * frac);
            u.Playhead += (double)u.SampleRate / outputRate;
            return value;
        }

        bool StartNext()
        {
            foreach (var u in _queue)
            {
                if (!u.HasAudio) continue;
                bool ready = u.Ended || u.AudioWritten >= PrebufferSeconds * u.SampleRate;
                if (!ready) return false;   // utterances play in order
                _current = u;
                u.Started = true;
                _events.Add(new StreamEvent { Utterance = u.Id, Name = "started", Time = 0 });
                return true;
            }
            return false;
        }

        void Finish(Utterance u)
        {
            _events.Add(new StreamEvent { Utterance = u.Id, Name = u.Status == "interrupted" ? "interrupted" : "finished",
                                          Time = u.Playhead / u.SampleRate });
            DueEvents(u, double.MaxValue);
            _queue.Remove(u);
            if (_current == u) _current = null;
        }

        // -- main thread ----------------------------------------------------------------------------
        /// <summary>For speech the engine plays itself: where its playback of `utterance` is.</summary>
        public void SetExternalPlayhead(string utterance, double seconds)
        {
            lock (_lock)
            {
                _externalId = utterance;
                _externalSeconds = seconds;
                var u = Find(utterance);
                if (u != null && !u.Started) { u.Started = true; _events.Add(new StreamEvent { Utterance = u.Id, Name = "started" }); }
            }
        }

        /// <summary>Write the frame at the playhead into `frame` (63 floats): interpolated between
        /// the two nearest frames while speaking, easing to neutral otherwise. `deltaTime` is the
        /// time since the previous call, in seconds.</summary>
        public bool SampleFrame(float[] frame, double deltaTime) { return SampleFrame(frame, deltaTime, double.NaN); }

        /// <summary>As above; `sessionTime` (from clock sync; NaN if unknown) places idle frames.</summary>
        public bool SampleFrame(float[] frame, double deltaTime, double sessionTime)
        {
            lock (_lock)
            {
                Utterance u = _externalId != null ? Find(_externalId) : _current;
                double seconds = _externalId != null ? _externalSeconds : (u != null ? u.Playhead / u.SampleRate : 0);
                bool speaking = false;
                if (u != null)
                {
                    int available = (int)Math.Min(u.Frames.Count, u.FrameLimit);
                    double position = seconds * u.Fps;
                    if (available > 0 && position < available)
                    {
                        int i = Math.Max(0, (int)position);
                        int j = Math.Min(i + 1, available - 1);
                        Interpolate(u.Frames[i], u.Frames[j], (float)(position - i), _shown);
                        speaking = true;
                    }
                    else if (available > 0 && !u.Ended)
                    {
                        // Frames are late (a network hiccup): hold the last one rather than
                        // relaxing the face mid-word; the playhead catches up when they arrive.
                        Array.Copy(u.Frames[available - 1], _shown, FrameWidth);
                        speaking = true;
                    }
                    DueEvents(u, seconds);
                    if (_externalId != null && u.Ended && position >= Math.Min(u.Frames.Count, u.FrameLimit))
                    {
                        Finish(u);
                        _externalId = null;
                    }
                }
                if (!speaking)
                {
                    // Between lines: the idle stream if there is one, else neutral; reached smoothly.
                    var target = IdleFrameAt(sessionTime) ?? Neutral();
                    float k = (float)(1 - Math.Exp(-Math.Max(deltaTime, 0) / EaseSeconds));
                    Interpolate(_shown, target, k, _shown);
                }
                Array.Copy(_shown, frame, FrameWidth);
                return speaking;
            }
        }

        /// <summary>Events whose time the playhead has passed, in order.</summary>
        public void PollEvents(List<StreamEvent> into)
        {
            lock (_lock)
            {
                into.AddRange(_events);
                _events.Clear();
            }
        }

        public bool IsSpeaking { get { lock (_lock) return _current != null || _externalId != null; } }

        public int QueuedUtterances { get { lock (_lock) return _queue.Count; } }

        public double BufferedSeconds
        {
            get
            {
                lock (_lock)
                {
                    double total = 0;
                    foreach (var u in _queue)
                        if (u.HasAudio) total += (Math.Min(u.AudioWritten, u.SampleLimit) - u.Playhead) / u.SampleRate;
                    return total;
                }
            }
        }

        // -- helpers ------------------------------------------------------------------------------
        void DueEvents(Utterance u, double seconds)
        {
            while (u.NextEvent < u.Events.Count && u.Events[u.NextEvent].Time <= seconds)
            {
                var e = u.Events[u.NextEvent++];
                if (u.SampleLimit != long.MaxValue && e.Time * u.SampleRate > u.SampleLimit) continue;   // cut away
                _events.Add(e);
            }
        }

        Utterance Find(string id)
        {
            foreach (var u in _queue) if (u.Id == id) return u;
            return null;
        }

        Utterance FindIdle(string id)
        {
            foreach (var u in _idle) if (u.Id == id) return u;
            return null;
        }

        /// <summary>The idle frame at `sessionTime`, or null; drops idle frames (and ended idle
        /// streams) that the clock has passed, so a long silence costs no memory.</summary>
        float[] IdleFrameAt(double sessionTime)
        {
            if (double.IsNaN(sessionTime)) return null;
            float[] result = null;
            for (int n = _idle.Count - 1; n >= 0; n--)
            {
                var u = _idle[n];
                double position = (sessionTime - u.StartTime) * u.Fps;
                long end = Math.Min(u.FrameOffset + u.Frames.Count, u.FrameLimit);
                if (u.Ended && position >= end) { _idle.RemoveAt(n); continue; }
                if (result != null || position < 0) continue;
                long i = (long)position;
                if (i - u.FrameOffset > 60)   // keep a second behind the playhead
                {
                    int drop = (int)Math.Min(i - u.FrameOffset - 60, u.Frames.Count);
                    u.Frames.RemoveRange(0, drop);
                    u.FrameOffset += drop;
                }
                if (i < end && i >= u.FrameOffset && u.Frames.Count > 0)
                {
                    var a = u.Frames[(int)(i - u.FrameOffset)];
                    var b = u.Frames[(int)Math.Min(i + 1 - u.FrameOffset, Math.Min(end - u.FrameOffset, u.Frames.Count) - 1)];
                    result = new float[FrameWidth];
                    Interpolate(a, b, (float)(position - i), result);
                }
            }
            return result;
        }

        static void EnsureCapacity(Utterance u, long needed)
        {
            if (needed <= u.Audio.Length) return;
            var bigger = new float[Math.Max(needed, u.Audio.Length * 2 + 4096)];
            Array.Copy(u.Audio, bigger, u.AudioWritten);
            u.Audio = bigger;
        }

        /// <summary>Linear blend of two frames; the head quaternion is blended and renormalised
        /// (close enough to slerp for the small steps between frames).</summary>
        public static void Interpolate(float[] a, float[] b, float t, float[] result)
        {
            for (int k = 0; k < FrameWidth; k++) result[k] = a[k] + (b[k] - a[k]) * t;
            float dot = a[52] * b[52] + a[53] * b[53] + a[54] * b[54] + a[55] * b[55];
            if (dot < 0)   // take the short way round
                for (int k = 52; k < 56; k++) result[k] = a[k] + (-b[k] - a[k]) * t;
            float norm = (float)Math.Sqrt(result[52] * result[52] + result[53] * result[53] + result[54] * result[54] + result[55] * result[55]);
            if (norm > 1e-6f) for (int k = 52; k < 56; k++) result[k] /= norm;
        }

        static void SwapFloats(float[] frame)
        {
            for (int i = 0; i < frame.Length; i++)
            {
                var bytes = BitConverter.GetBytes(frame[i]);
                Array.Reverse(bytes);
                frame[i] = BitConverter.ToSingle(bytes, 0);
            }
        }
    }
}
