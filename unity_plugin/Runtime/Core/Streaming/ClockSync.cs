// Maps the server's session clock to a local clock from ping/pong round trips (SPEC.md 8.2).
// The round trip with the smallest delay bounds the error best, so the estimate keeps the best of
// the recent samples rather than averaging in the slow ones.
using System;
using System.Collections.Generic;

namespace Avbridge.Core.Streaming
{
    public sealed class ClockSync
    {
        struct Sample { public double Rtt; public double Offset; }

        readonly Queue<Sample> _samples = new Queue<Sample>();
        readonly int _keep;

        public ClockSync(int keep = 16) { _keep = keep; }

        /// <summary>A ping sent at local time t0, answered at t1 with the server's session time.</summary>
        public void Add(double t0, double t1, double sessionTime)
        {
            if (t1 < t0) return;
            _samples.Enqueue(new Sample { Rtt = t1 - t0, Offset = (t0 + t1) / 2 - sessionTime });
            while (_samples.Count > _keep) _samples.Dequeue();
        }

        public bool HasEstimate { get { return _samples.Count > 0; } }

        /// <summary>Forget every sample: a new session (after a reconnect) has a new clock.</summary>
        public void Reset() { _samples.Clear(); }

        /// <summary>Local time minus session time, from the fastest round trip kept.</summary>
        public double Offset
        {
            get
            {
                if (_samples.Count == 0) throw new InvalidOperationException("no ping answered yet");
                Sample best = default(Sample);
                double bestRtt = double.MaxValue;
                foreach (var s in _samples) if (s.Rtt < bestRtt) { best = s; bestRtt = s.Rtt; }
                return best.Offset;
            }
        }

        /// <summary>Half the fastest round trip: how wrong Offset can be.</summary>
        public double Uncertainty
        {
            get
            {
                double best = double.MaxValue;
                foreach (var s in _samples) best = Math.Min(best, s.Rtt);
                return best / 2;
            }
        }

        public double ToLocal(double sessionTime) { return sessionTime + Offset; }

        public double ToSession(double localTime) { return localTime - Offset; }
    }
}
