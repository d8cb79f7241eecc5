// Bytes allocated by the calling thread, for the benchmarks' garbage budget (per NPC, per thread).
// GC.GetAllocatedBytesForCurrentThread exists in Mono and .NET Core but not in the .NET Framework
// 4.7.2 reference API this package compiles against, so it is found by reflection once and called
// through a delegate (no boxing). Where it does not exist (or IL2CPP stripped it), everything
// reads -1 and costs nothing.
using System;
using System.Reflection;
using System.Threading;

namespace Avbridge.Core.Zmtp
{
    public static class AllocationProbe
    {
        static readonly Func<long> Probe = Find();

        static Func<long> Find()
        {
            var method = typeof(GC).GetMethod("GetAllocatedBytesForCurrentThread", BindingFlags.Public | BindingFlags.Static);
            if (method == null || method.ReturnType != typeof(long)) return null;
            try { return (Func<long>)Delegate.CreateDelegate(typeof(Func<long>), method); }
            catch (ArgumentException) { return null; }
        }

        public static bool Available { get { return Probe != null && Enabled; } }

        /// <summary>Off unless a benchmark turns it on: the sample is one call per message.</summary>
        public static volatile bool Enabled;

        /// <summary>Bytes the calling thread has allocated so far, or -1.</summary>
        public static long CurrentThread() { return Available ? Probe() : -1; }

        internal static void Start(ref long slot) { Interlocked.Exchange(ref slot, CurrentThread()); }

        internal static void Sample(ref long slot) { if (Available) Interlocked.Exchange(ref slot, Probe()); }
    }
}
