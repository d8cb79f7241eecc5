// avbridge's frame is right-handed in the avatar's own space (x to its left, y up, z out of the
// face; SPEC.md 8.3). Unity is left-handed with x to the character's right. Mirroring x turns a
// rotation quaternion (x, y, z, w) into (x, -y, -z, w) and a translation (x, y, z) into (-x, y, z).
using System;
using Avbridge.Core.Rig;

namespace Avbridge.Core.Mapping
{
    public static class UnityAxes
    {
        /// <summary>The head rotation of `frame` as a Unity quaternion.</summary>
        public static Quat Head(float[] frame)
        {
            return new Quat(frame[52], -frame[53], -frame[54], frame[55]);
        }

        /// <summary>One eye's gaze (0: left, 1: right) in Unity's sense, radians: yaw > 0 turns
        /// to the character's right (avbridge's yaw turns to its left), pitch > 0 down.</summary>
        public static void EyeYawPitch(float[] frame, int eye, out float yaw, out float pitch)
        {
            yaw = -frame[59 + 2 * eye];
            pitch = frame[60 + 2 * eye];
        }

        /// <summary>The head rotation of `frame` as a Unity quaternion (x, y, z, w).</summary>
        public static void HeadRotation(float[] frame, float[] xyzw)
        {
            var q = Head(frame);
            xyzw[0] = q.X;
            xyzw[1] = q.Y;
            xyzw[2] = q.Z;
            xyzw[3] = q.W;
        }

        /// <summary>The head translation of `frame` in Unity axes (metres).</summary>
        public static void HeadTranslation(float[] frame, float[] xyz)
        {
            xyz[0] = -frame[56];
            xyz[1] = frame[57];
            xyz[2] = frame[58];
        }

        /// <summary>Unity Euler angles in degrees (x: pitch, down positive; y: yaw, right positive)
        /// for the left (eye = 0) or right (eye = 1) eye.</summary>
        public static void EyeEuler(float[] frame, int eye, float[] euler)
        {
            const float degrees = (float)(180.0 / Math.PI);
            float yaw, pitch;
            EyeYawPitch(frame, eye, out yaw, out pitch);
            euler[0] = pitch * degrees;
            euler[1] = yaw * degrees;
            euler[2] = 0;
        }
    }
}
