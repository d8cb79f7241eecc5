// A unit quaternion (x, y, z, w) in Unity's convention, with only the operations the rig code
// needs. Core has no engine reference, so the head and eye logic can run (and be tested) outside
// Unity; the glue converts to and from UnityEngine.Quaternion field by field.
using System;

namespace Avbridge.Core.Rig
{
    public struct Quat
    {
        public float X, Y, Z, W;

        public Quat(float x, float y, float z, float w) { X = x; Y = y; Z = z; W = w; }

        public static Quat Identity { get { return new Quat(0, 0, 0, 1); } }

        /// <summary>Hamilton product: `a * b` applies b first, then a (as Unity's operator*).</summary>
        public static Quat operator *(Quat a, Quat b)
        {
            return new Quat(
                a.W * b.X + a.X * b.W + a.Y * b.Z - a.Z * b.Y,
                a.W * b.Y - a.X * b.Z + a.Y * b.W + a.Z * b.X,
                a.W * b.Z + a.X * b.Y - a.Y * b.X + a.Z * b.W,
                a.W * b.W - a.X * b.X - a.Y * b.Y - a.Z * b.Z);
        }

        public Quat Inverse() { return new Quat(-X, -Y, -Z, W); }

        public static Quat AxisAngle(float ax, float ay, float az, float radians)
        {
            float s = (float)Math.Sin(radians / 2);
            return new Quat(ax * s, ay * s, az * s, (float)Math.Cos(radians / 2));
        }

        public static float Dot(Quat a, Quat b) { return a.X * b.X + a.Y * b.Y + a.Z * b.Z + a.W * b.W; }

        /// <summary>The angle between two rotations, in degrees.</summary>
        public static float AngleDegrees(Quat a, Quat b)
        {
            float d = Math.Min(1f, Math.Abs(Dot(a, b)));
            return (float)(2 * Math.Acos(d) * 180 / Math.PI);
        }

        /// <summary>Spherical interpolation along the short way; t outside 0..1 is clamped.</summary>
        public static Quat Slerp(Quat a, Quat b, float t)
        {
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            float d = Dot(a, b);
            if (d < 0) { b = new Quat(-b.X, -b.Y, -b.Z, -b.W); d = -d; }
            float wa, wb;
            if (d > 0.9995f) { wa = 1 - t; wb = t; }
            else
            {
                double theta = Math.Acos(d), sin = Math.Sin(theta);
                wa = (float)(Math.Sin((1 - t) * theta) / sin);
                wb = (float)(Math.Sin(t * theta) / sin);
            }
            return new Quat(wa * a.X + wb * b.X, wa * a.Y + wb * b.Y, wa * a.Z + wb * b.Z, wa * a.W + wb * b.W).Normalized();
        }

        public Quat Normalized()
        {
            float n = (float)Math.Sqrt(X * X + Y * Y + Z * Z + W * W);
            return n > 1e-9f ? new Quat(X / n, Y / n, Z / n, W / n) : Identity;
        }

        /// <summary>This rotation with its angle limited to `maxDegrees`.</summary>
        public Quat Limited(float maxDegrees)
        {
            float angle = AngleDegrees(Identity, this);
            return angle > maxDegrees && angle > 1e-6f ? Slerp(Identity, this, maxDegrees / angle) : this;
        }

        /// <summary>The vector (x, y, z) rotated by this quaternion.</summary>
        public void Rotate(float x, float y, float z, out float rx, out float ry, out float rz)
        {
            // v' = v + 2w (q x v) + 2 q x (q x v)
            float cx = Y * z - Z * y, cy = Z * x - X * z, cz = X * y - Y * x;
            float ccx = Y * cz - Z * cy, ccy = Z * cx - X * cz, ccz = X * cy - Y * cx;
            rx = x + 2 * (W * cx + ccx);
            ry = y + 2 * (W * cy + ccy);
            rz = z + 2 * (W * cz + ccz);
        }

        /// <summary>True when both describe the same rotation to within ~0.01 degrees. Compared by
        /// components (q and -q alike): a dot product near 1 is below float resolution.</summary>
        public static bool Same(Quat a, Quat b)
        {
            float dx = a.X - b.X, dy = a.Y - b.Y, dz = a.Z - b.Z, dw = a.W - b.W;
            float sx = a.X + b.X, sy = a.Y + b.Y, sz = a.Z + b.Z, sw = a.W + b.W;
            return Math.Min(dx * dx + dy * dy + dz * dz + dw * dw, sx * sx + sy * sy + sz * sz + sw * sw) < 1e-8f;
        }

        public override string ToString() { return string.Format("({0:F4}, {1:F4}, {2:F4}, {3:F4})", X, Y, Z, W); }
    }
}
