// The client's jitter buffer: utterances as they arrive from the network, played back with audio
// as the master clock.
//
// Three threads meet here, under one lock, each for a short time (work proportional to one
// message or one audio buffer; nothing grows or copies what is stored):
//   network thread  Begin / AddAudio / AddFrames / AddEvent / End   (from AvatarLink)
//   audio thread    ReadAudio: resamples to the output rate and advances the read position
//   main thread     SampleFrame: the animation frame at the position being *heard*; PollEvents
// The frame shown is the one at the heard position (HeardPosition: between audio callbacks and
// after the output latency), so network jitter never shows as lip-sync error. For speech the
// engine plays itself (speak_audio), the engine reports its playhead instead.
using System;
using System.Collections.Generic;
using System.Diagnostics;

namespace Avbridge.Core.Streaming
{
    public struct StreamEvent
    {
        public string Utterance;
        public string Name;      // word, phoneme, emotion, ... from the server; playback: started, finished, interrupted
        public string Text;      // the word, or the phoneme
        public double Time;      // seconds from the utterance start
    }

    public sealed partial class AvatarStream
    {
        public const int FrameWidth = 63;

        sealed class Utterance
        {
            public string Id;
            public int SampleRate;
            public double Fps;
            public bool HasAudio;
            public SampleBlocks Audio;
            public FrameStore Frames;
            public readonly List<StreamEvent> Events = new List<StreamEvent>();
            public int NextEvent;
            public bool Ended;
            public string Status;
            public long SampleLimit = long.MaxValue;
            public long FrameLimit = long.MaxValue;
            public double Playhead;          // read position, in source samples
            public bool Started, DoneReading, Rebuffering;
            public double DoneAt;            // audio clock when its last sample was read
            public double StartTime;         // idle streams: on the session clock
            public double ExternalSeconds;   // engine-played speech: the reported playhead
            public bool External;
            public bool Idle;
            public long StartOrder;          // which of two playing utterances began last
            public double LastCovered;       // wall clock when frames last covered the position
        }

        readonly object _lock = new object();
        readonly BlockPool _blocks = new BlockPool();
        readonly Stack<float[]> _framePool = new Stack<float[]>();
        readonly List<Utterance> _queue = new List<Utterance>();       // server speech and engine speech, in order
        readonly List<Utterance> _idle = new List<Utterance>();
        readonly List<StreamEvent> _events = new List<StreamEvent>();
        readonly HeardPosition _heard = new HeardPosition();
        readonly float[] _shown = Neutral();
        readonly float[] _idleScratch = new float[FrameWidth];
        readonly Stopwatch _wall = Stopwatch.StartNew();
        Utterance _current;               // being read by the audio thread
        Utterance _draining;              // read to its end, still being heard
        long _starts;
        double _audioClock;               // seconds of output read so far
        double _wallAtRead = double.NaN, _lastBufferSeconds;
        float _gain, _held;               // the click-free fade around underruns

        /// <summary>Seconds of audio an utterance must have buffered before it starts (or resumes
        /// after an underrun), unless its stream has ended. Raised by 50 ms after each underrun, up
        /// to MaxPrebufferSeconds, so a jittery link settles at the buffer it needs.</summary>
        public double PrebufferSeconds = 0.15;
        public double MaxPrebufferSeconds = 0.5;

        /// <summary>Time constant of the ease back to idle or neutral after speech or an interrupt.</summary>
        public double EaseSeconds = 0.12;

        /// <summary>How long a late frame is held before the face lets go (a dead link, a muted microphone).</summary>
        public double HoldLateSeconds = 0.3;

        /// <summary>Seconds between the audio thread reading a sample and the listener hearing it
        /// (AvbridgeAudioPlayer sets it from the DSP buffer size).</summary>
        public double OutputLatencySeconds { get { return _heard.LatencySeconds; } set { lock (_lock) _heard.LatencySeconds = value; } }

        /// <summary>The wall clock, in seconds (tests replace it).</summary>
        public Func<double> Clock;

        /// <summary>Times the audio ran dry mid-utterance.</summary>
        public int Underruns { get; private set; }

        public AvatarStream() { Clock = () => _wall.Elapsed.TotalSeconds; }

        public static float[] Neutral()
        {
            var f = new float[FrameWidth];
            f[55] = 1f;   // identity quaternion w
            return f;
        }

        // -- network thread ---------------------------------------------------------------------
        public void Begin(string id, int sampleRate, double fps, bool hasAudio)
        {
            lock (_lock) _queue.Add(NewUtterance(id, sampleRate, fps, hasAudio));
        }

        /// <summary>An idle stream (breathing, sway, blinks while nothing is said), shown at the
        /// session time because no audio drives it.</summary>
        public void BeginIdle(string id, double fps, double sessionStart)
        {
            lock (_lock)
            {
                // Streams nobody sampled (the app was paused) are not kept for ever.
                while (_idle.Count >= 4) { Release(_idle[0]); _idle.RemoveAt(0); }
                var u = NewUtterance(id, 0, fps, false);
                u.Idle = true;
                u.StartTime = sessionStart;
                _idle.Add(u);
            }
        }

        /// <summary>int16 little-endian PCM at sample `offset` of the utterance.</summary>
        public void AddAudio(string id, long offset, byte[] pcm) { AddAudio(id, offset, pcm, 0, pcm.Length); }

        public void AddAudio(string id, long offset, byte[] pcm, int start, int bytes)
        {
            lock (_lock)
            {
                var u = Find(id);
                if (u == null || offset != u.Audio.Written) return;   // unknown, or out of order: drop
                u.Audio.AppendPcm16(pcm, start, bytes);
            }
        }

        /// <summary>count x 63 float32 little-endian frames starting at frame `first`.</summary>
        public void AddFrames(string id, long first, int count, byte[] data) { AddFrames(id, first, count, data, 0); }

        public void AddFrames(string id, long first, int count, byte[] data, int start)
        {
            lock (_lock)
            {
                var u = Find(id) ?? FindIdle(id);
                if (u == null || first != u.Frames.End) return;
                u.Frames.Append(data, start, count);
                if (u.Idle && u.Frames.Held > u.Fps * 10)   // idle frames nobody samples (paused)
                    u.Frames.DropBefore(u.Frames.End - (long)(u.Fps * 2));
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

        /// <summary>The stream's end. Samples and frames from `samples` / `frames` on are
        /// discarded, even if they were already buffered.</summary>
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

        /// <summary>Stop at once, locally (the server's cut follows): everything buffered is
        /// dropped, and every line that was queued or playing gets an "interrupted" event.</summary>
        public void InterruptNow()
        {
            lock (_lock)
            {
                foreach (var u in _queue) Stopped(u, "interrupted");
                _queue.Clear();
                _current = null;
                if (_draining != null) { Stopped(_draining, "interrupted"); _draining = null; }
            }
        }

        public void Clear()
        {
            InterruptNow();
            lock (_lock)
            {
                foreach (var u in _idle) Release(u);
                _idle.Clear();
            }
        }

        // -- main thread ----------------------------------------------------------------------------
        /// <summary>For speech the engine plays itself: where its playback of `utterance` is.</summary>
        public void SetExternalPlayhead(string utterance, double seconds)
        {
            lock (_lock)
            {
                var u = Find(utterance);
                if (u == null || u.HasAudio) return;
                u.External = true;
                u.ExternalSeconds = seconds;
                if (!u.Started)
                {
                    u.Started = true;
                    u.StartOrder = ++_starts;
                    u.LastCovered = Clock();
                    _events.Add(new StreamEvent { Utterance = u.Id, Name = "started" });
                }
            }
        }

        /// <summary>The engine stopped playing `utterance` (its AudioSource finished, the microphone
        /// was muted): the line is over here whatever the stream says, and the face lets go.</summary>
        public void FinishExternal(string utterance)
        {
            lock (_lock)
            {
                var u = Find(utterance);
                if (u != null && !u.HasAudio) FinishPlayback(u);
            }
        }

        /// <summary>Write the frame at the heard position into `frame` (63 floats): interpolated
        /// between the two nearest frames while speaking, easing to idle or neutral otherwise.
        /// `deltaTime` is the time since the previous call, in seconds.</summary>
        public bool SampleFrame(float[] frame, double deltaTime) { return SampleFrame(frame, deltaTime, double.NaN); }

        /// <summary>As above; `sessionTime` (from clock sync; NaN if unknown) places idle frames.</summary>
        public bool SampleFrame(float[] frame, double deltaTime, double sessionTime)
        {
            lock (_lock)
            {
                double now = Clock();
                bool speaking = false;
                double seconds;
                var u = Shown(now, out seconds);
                if (u != null)
                {
                    long available = Math.Min(u.Frames.End, u.FrameLimit);
                    double position = seconds * u.Fps;
                    long i = Math.Max(u.Frames.First, (long)position);
                    if (available > u.Frames.First && position < available)
                    {
                        long j = Math.Min(i + 1, available - 1);
                        Interpolate(u.Frames[i], u.Frames[j], (float)(position - i), _shown);
                        u.LastCovered = now;
                        speaking = true;
                    }
                    else if (available > u.Frames.First && !u.Ended && now - u.LastCovered < HoldLateSeconds)
                    {
                        // Frames are late (a network hiccup): hold the last one rather than
                        // relaxing the face mid-word; the playhead catches up when they arrive.
                        Array.Copy(u.Frames[available - 1], _shown, FrameWidth);
                        speaking = true;
                    }
                    DueEvents(u, seconds);
                    // A second behind the playhead is all that is kept (an endless microphone line).
                    u.Frames.DropBefore(Math.Min((long)position, available) - (long)u.Fps);
                    if (u.External && u.Ended && position >= available - 1.5) FinishPlayback(u);
                }
                if (!speaking)
                {
                    // Between lines: the idle stream if there is one, else neutral; reached smoothly.
                    var target = IdleFrameAt(sessionTime) ? _idleScratch : NeutralFrame;
                    float k = (float)(1 - Math.Exp(-Math.Max(deltaTime, 0) / EaseSeconds));
                    Interpolate(_shown, target, k, _shown);
                }
                Array.Copy(_shown, frame, FrameWidth);
                return speaking;
            }
        }

        /// <summary>The utterance being heard now and how far into it, in seconds: the engine's
        /// speech or ours, whichever started last.</summary>
        Utterance Shown(double now, out double seconds)
        {
            seconds = 0;
            Utterance best = null;
            double audioNow = AudioNow(now);
            foreach (var u in _queue)
            {
                if (!u.Started) continue;
                double s;
                if (u.External) s = u.ExternalSeconds;
                else
                {
                    double position;
                    if (!_heard.TryGet(u, audioNow, out position)) continue;
                    s = position / u.SampleRate;
                }
                if (best == null || u.StartOrder > best.StartOrder) { best = u; seconds = s; }
            }
            return best;   // a line being drained (read to its end, still heard) is still in _queue
        }

        /// <summary>The audio clock now: the last read, moved on by the wall clock since, but not
        /// past two buffers (when the audio stops, so does the face).</summary>
        double AudioNow(double wallNow)
        {
            if (double.IsNaN(_wallAtRead)) return _audioClock;
            double ahead = Math.Min(Math.Max(0, wallNow - _wallAtRead), 2 * _lastBufferSeconds);
            return _audioClock - _lastBufferSeconds + ahead;
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

        /// <summary>A line has started and not finished (it may be waiting out an underrun).</summary>
        public bool IsSpeaking
        {
            get
            {
                lock (_lock)
                {
                    foreach (var u in _queue) if (u.Started) return true;
                    return false;
                }
            }
        }

        public int QueuedUtterances { get { lock (_lock) return _queue.Count; } }

        /// <summary>Seconds of speech received and not yet played.</summary>
        public double BufferedSeconds
        {
            get
            {
                lock (_lock)
                {
                    double total = 0;
                    foreach (var u in _queue)
                        if (u.HasAudio) total += (Math.Min(u.Audio.Written, u.SampleLimit) - u.Playhead) / u.SampleRate;
                    return total;
                }
            }
        }

        /// <summary>Frames held now, over every utterance (memory checks).</summary>
        public int HeldFrames { get { lock (_lock) { int n = 0; foreach (var u in _queue) n += u.Frames.Held; foreach (var u in _idle) n += u.Frames.Held; return n; } } }

        // -- helpers ------------------------------------------------------------------------------
        static readonly float[] NeutralFrame = Neutral();

        Utterance NewUtterance(string id, int sampleRate, double fps, bool hasAudio)
        {
            return new Utterance { Id = id, SampleRate = sampleRate, Fps = fps, HasAudio = hasAudio,
                                   Audio = new SampleBlocks(_blocks), Frames = new FrameStore(_framePool) };
        }

        void Stopped(Utterance u, string how)
        {
            _events.Add(new StreamEvent { Utterance = u.Id, Name = how, Time = u.HasAudio && u.SampleRate > 0 ? u.Playhead / u.SampleRate : u.ExternalSeconds });
            _heard.Forget(u);
            Release(u);
        }

        static void Release(Utterance u)
        {
            u.Audio.ReleaseAll();
            u.Frames.DropAll();
        }

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

        /// <summary>The idle frame at `sessionTime` into the scratch frame; false if none. Drops
        /// idle frames (and ended idle streams) that the clock has passed, so a long silence costs
        /// no memory.</summary>
        bool IdleFrameAt(double sessionTime)
        {
            if (double.IsNaN(sessionTime)) return false;
            bool found = false;
            for (int n = _idle.Count - 1; n >= 0; n--)
            {
                var u = _idle[n];
                double position = (sessionTime - u.StartTime) * u.Fps;
                long end = Math.Min(u.Frames.End, u.FrameLimit);
                if (u.Ended && position >= end) { Release(u); _idle.RemoveAt(n); continue; }
                if (found || position < 0) continue;
                long i = (long)position;
                u.Frames.DropBefore(Math.Min(i, u.Frames.End) - (long)u.Fps);   // keep a second behind
                if (i < end && i >= u.Frames.First)
                {
                    Interpolate(u.Frames[i], u.Frames[Math.Min(i + 1, end - 1)], (float)(position - i), _idleScratch);
                    found = true;
                }
            }
            return found;
        }

        /// <summary>Linear blend of two frames; the head quaternion is blended and renormalised
        /// (close enough to slerp for the small steps between frames).</summary>
        public static void Interpolate(float[] a, float[] b, float t, float[] result)
        {
            // `result` may be `a`: the sign is taken before anything is written.
            float sign = a[52] * b[52] + a[53] * b[53] + a[54] * b[54] + a[55] * b[55] < 0 ? -1f : 1f;   // the short way round
            for (int k = 0; k < FrameWidth; k++) result[k] = a[k] + ((k >= 52 && k < 56 ? sign : 1f) * b[k] - a[k]) * t;
            float norm = (float)Math.Sqrt(result[52] * result[52] + result[53] * result[53] + result[54] * result[54] + result[55] * result[55]);
            if (norm > 1e-6f) for (int k = 52; k < 56; k++) result[k] /= norm;
        }
    }
}
