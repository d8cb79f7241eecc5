// Where in an utterance the listener is now, between audio callbacks.
//
// The audio thread reads a whole DSP buffer at once (1024 samples: 21 ms at 48 kHz), so a playhead
// that moves only when it reads holds still for a buffer and then jumps: at 72-90 Hz several
// rendered frames in a row showed the same mouth pose. And what it reads is heard only after the
// output's latency (the buffers queued ahead of the one being read). So each read is stamped with
// the local time and the source positions it covered; the main thread takes the read whose sound
// is reaching the ear now (read time + latency <= now) and moves through it at the source rate.
namespace Avbridge.Core.Streaming
{
    public sealed class HeardPosition
    {
        struct Read
        {
            public object Utterance;
            public double Time;          // local seconds when it was read
            public double From, To;      // source samples covered
            public double Rate;          // source samples per second of output
        }

        const int Keep = 16;             // 16 buffers: more than any output latency worth supporting
        readonly Read[] _reads = new Read[Keep];
        int _next, _count;

        /// <summary>Seconds between reading a sample and hearing it.</summary>
        public double LatencySeconds;

        /// <summary>Audio thread (under the stream's lock): a read of `utterance` from source sample
        /// `from` to `to` at local time `time`.</summary>
        public void Record(object utterance, double time, double from, double to, double sourceRate)
        {
            _reads[_next] = new Read { Utterance = utterance, Time = time, From = from, To = to, Rate = sourceRate };
            _next = (_next + 1) % Keep;
            if (_count < Keep) _count++;
        }

        /// <summary>The source position of `utterance` heard at local time `now`; false when none of
        /// its reads has reached the ear yet.</summary>
        public bool TryGet(object utterance, double now, out double position)
        {
            position = 0;
            double heardAt = now - LatencySeconds;
            for (int k = 1; k <= _count; k++)
            {
                var r = _reads[(_next - k + Keep) % Keep];
                if (r.Utterance != utterance || r.Time > heardAt) continue;
                double p = r.From + (heardAt - r.Time) * r.Rate;
                position = p < r.To ? p : r.To;
                return true;
            }
            return false;
        }

        public void Forget(object utterance)
        {
            for (int k = 0; k < Keep; k++) if (_reads[k].Utterance == utterance) _reads[k].Utterance = null;
        }
    }
}
