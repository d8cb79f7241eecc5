// Eye contact with a point in the scene: the direction from the avatar's eyes to a target, turned
// into the protocol's gaze angles (SPEC.md 6.1 `set gaze_yaw/gaze_pitch`, -0.6..0.6: yaw > 0 to the avatar's
// left, pitch > 0 down, radians), and sent only when it has moved enough to matter.
using System;

namespace Avbridge.Core.Rig
{
    public sealed class GazeTarget
    {
        /// <summary>Smallest change worth a message, radians (about 1.5 degrees).</summary>
        public double MinChangeRadians = 0.025;
        /// <summary>Fewest seconds between messages while the target moves.</summary>
        public double MinIntervalSeconds = 0.1;

        double _sentYaw = double.NaN, _sentPitch, _sentAt = double.NegativeInfinity;

        /// <summary>Gaze angles for a direction in the character's Unity axes (x right, y up, z forward).</summary>
        public static void YawPitch(float x, float y, float z, out double yaw, out double pitch)
        {
            yaw = Clamp(Math.Atan2(-x, z));
            pitch = Clamp(Math.Atan2(-y, Math.Sqrt(x * x + z * z)));
        }

        /// <summary>True when (yaw, pitch) should be sent now, at `seconds` on any steady clock.</summary>
        public bool ShouldSend(double yaw, double pitch, double seconds)
        {
            if (!double.IsNaN(_sentYaw))
            {
                double moved = Math.Max(Math.Abs(yaw - _sentYaw), Math.Abs(pitch - _sentPitch));
                if (moved < MinChangeRadians || seconds - _sentAt < MinIntervalSeconds) return false;
            }
            _sentYaw = yaw;
            _sentPitch = pitch;
            _sentAt = seconds;
            return true;
        }

        /// <summary>The protocol takes -0.6..0.6 rad: a target behind the avatar is looked at from
        /// the corner of its eyes rather than refused.</summary>
        public const double MaxRadians = 0.6;

        static double Clamp(double v) { return v < -MaxRadians ? -MaxRadians : v > MaxRadians ? MaxRadians : v; }

        /// <summary>Forget what was sent (a new session knows nothing of it).</summary>
        public void Reset() { _sentYaw = double.NaN; }
    }
}
