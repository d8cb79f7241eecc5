// Field-by-field conversions between Core's engine-free types and UnityEngine's.
using Avbridge.Core.Rig;
using UnityEngine;

namespace Avbridge.Unity
{
    static class UnityConvert
    {
        public static Quat ToQuat(this Quaternion q) { return new Quat(q.x, q.y, q.z, q.w); }
        public static Quaternion ToUnity(this Quat q) { return new Quaternion(q.X, q.Y, q.Z, q.W); }
    }
}
