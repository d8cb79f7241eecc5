// The head and eye rotations of a frame as offsets in the character's Unity axes, limited and
// weighted the way the head-and-eye driver's inspector fields say.
using System;
using Avbridge.Core.Mapping;

namespace Avbridge.Core.Rig
{
    public static class RigOffsets
    {
        /// <summary>The frame's head rotation (SPEC.md 8.3) in Unity axes, at most `maxDegrees`
        /// from rest, scaled by `weight` (0..1).</summary>
        public static Quat Head(float[] frame, float maxDegrees, float weight)
        {
            var q = UnityAxes.Head(frame).Normalized().Limited(maxDegrees);
            return Quat.Slerp(Quat.Identity, q, weight);
        }

        /// <summary>One eye's rotation relative to the head (0: left, 1: right): yaw about the
        /// head's up axis, then pitch about its right axis, each clamped to `maxDegrees`.</summary>
        public static Quat Eye(float[] frame, int eye, float maxDegrees, float weight)
        {
            float limit = (float)(maxDegrees * Math.PI / 180);
            float yaw, pitch;
            UnityAxes.EyeYawPitch(frame, eye, out yaw, out pitch);
            yaw = Math.Max(-limit, Math.Min(limit, yaw)) * weight;
            pitch = Math.Max(-limit, Math.Min(limit, pitch)) * weight;
            return Quat.AxisAngle(0, 1, 0, yaw) * Quat.AxisAngle(1, 0, 0, pitch);
        }
    
        /// <summary>A bone's parent relative to the character root (the frame head offsets are in).</summary>
        public static Quat InRoot(Quat rootWorld, Quat parentWorld) { return rootWorld.Inverse() * parentWorld; }

        /// <summary>An eye's parent relative to the frame eye offsets are in: the character's axes
        /// carried along by the head's motion from its bind pose (gaze is relative to the head,
        /// SPEC.md 8.3). `headRestInRoot` is the head's rotation relative to the root at bind time.</summary>
        public static Quat EyeParentInFrame(Quat rootWorld, Quat headWorld, Quat headRestInRoot, Quat eyeParentWorld)
        {
            var headMotionInRoot = rootWorld.Inverse() * headWorld * headRestInRoot.Inverse();
            return headMotionInRoot.Inverse() * rootWorld.Inverse() * eyeParentWorld;
        }
    }
}
