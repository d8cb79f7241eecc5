using System;
using Avbridge.Core.Rig;
using NUnit.Framework;

namespace Avbridge.Tests
{
    /// <summary>The head and eye logic on small simulated hierarchies: a bone is a local rotation
    /// under a parent whose world rotation is given, the way Unity composes them.</summary>
    [TestFixture]
    public class RigTests
    {
        static Quat Yaw(float degrees) { return Quat.AxisAngle(0, 1, 0, (float)(degrees * Math.PI / 180)); }
        static Quat Pitch(float degrees) { return Quat.AxisAngle(1, 0, 0, (float)(degrees * Math.PI / 180)); }
        static Quat Roll(float degrees) { return Quat.AxisAngle(0, 0, 1, (float)(degrees * Math.PI / 180)); }

        /// <summary>Where a bone looks, in world axes: its world rotation applied to the local axis
        /// that points out of the face at rest (which differs from bone to bone on real rigs).</summary>
        static float[] Look(Quat world, Quat restWorld)
        {
            // The look axis in bone space is the one that restWorld maps onto world +z.
            float lx, ly, lz, x, y, z;
            restWorld.Inverse().Rotate(0, 0, 1, out lx, out ly, out lz);
            world.Rotate(lx, ly, lz, out x, out y, out z);
            return new[] { x, y, z };
        }

        static void AssertDirection(float[] expected, float[] actual, string what)
        {
            for (int i = 0; i < 3; i++) Assert.AreEqual(expected[i], actual[i], 1e-3, what + " axis " + i);
        }

        [Test]
        public void WithNoAnimatorTheHeadTurnsOnceAndDoesNotDrift()
        {
            var pose = new BonePose();
            var rest = Pitch(10);
            var local = rest;
            for (int frame = 0; frame < 300; frame++) local = pose.Apply(local, Quat.Identity, Yaw(20));
            Assert.AreEqual(20f, Quat.AngleDegrees(local, rest), 0.01f, "20 degrees from rest after 300 frames, not 6000");
            Assert.AreEqual(0f, Quat.AngleDegrees(local, Yaw(20) * rest), 0.01f);
        }

        [Test]
        public void AnAnimatorThatPosesTheBoneEachFrameIsTheBase()
        {
            var pose = new BonePose();
            Quat local = Quat.Identity;
            for (int frame = 0; frame < 60; frame++)
            {
                var animated = Pitch(frame * 0.5f);   // the Animator writes this, then LateUpdate runs
                local = pose.Apply(animated, Quat.Identity, Yaw(15));
                Assert.AreEqual(0f, Quat.AngleDegrees(local, Yaw(15) * animated), 0.01f, "frame " + frame);
            }
        }

        [Test]
        public void ACulledAnimatorThatStopsWritingLeavesTheLastAnimatedPoseAsBase()
        {
            var pose = new BonePose();
            var local = pose.Apply(Pitch(5), Quat.Identity, Yaw(10));
            for (int frame = 0; frame < 50; frame++) local = pose.Apply(local, Quat.Identity, Yaw(-10));
            Assert.AreEqual(0f, Quat.AngleDegrees(local, Yaw(-10) * Pitch(5)), 0.01f);
            Assert.AreEqual(0f, Quat.AngleDegrees(pose.Release(local), Pitch(5)), 0.01f, "disabling restores the base");
        }

        [TestCase(0f)]
        [TestCase(90f)]
        [TestCase(180f)]
        public void MirroredAndOffsetEyeBonesLookTheSameWay(float restOffsetDegrees)
        {
            // Right eye: bone axes as the head's. Left eye: mirrored by a 180-degree turn about the
            // up axis plus an arbitrary offset (Ready Player Me's eyes carry 90 and 180 degrees).
            var root = Yaw(30);                 // the character turned in the world
            var headRestInRoot = Pitch(3);      // the head's bind pose, a little bowed
            var head = root * Pitch(-5) * headRestInRoot;   // now tilted back 5 degrees from it
            var rightRest = Quat.Identity;
            var leftRest = Yaw(180) * Roll(restOffsetDegrees);
            var gaze = Yaw(-15) * Pitch(8);   // to the right and down, relative to the head
            var inFrame = RigOffsets.EyeParentInFrame(root, head, headRestInRoot, head);
            var right = new BonePose().Apply(rightRest, inFrame, gaze);
            var left = new BonePose().Apply(leftRest, inFrame, gaze);
            // Where the face points, turned by the gaze about the head's own (moved) character axes.
            var headMotion = root * Pitch(-5);
            var expected = Look(headMotion * gaze, headMotion);
            AssertDirection(expected, Look(head * right, head * rightRest), "right eye");
            AssertDirection(expected, Look(head * left, head * leftRest), "left eye");
        }

        [Test]
        public void OffsetsTurnAboutTheCharactersAxesWhateverTheParentChain()
        {
            // A spine bent 40 degrees forward: the head's parent is pitched. A yaw offset must still
            // turn the face about the character's up axis, not about the bent neck's.
            var parent = Pitch(40);
            var rest = Pitch(-40);   // the head itself upright again
            var local = new BonePose().Apply(rest, parent, Yaw(25));
            var world = parent * local;
            AssertDirection(Look(Yaw(25), Quat.Identity), Look(world, parent * rest), "face");
        }

        [Test]
        public void HeadOffsetIsLimitedAndWeighted()
        {
            var frame = new float[63];
            var q = Yaw(60);   // avbridge axes mirror y: a Unity yaw of 60 is (0, -sin, 0, cos) there
            frame[52] = q.X; frame[53] = -q.Y; frame[54] = -q.Z; frame[55] = q.W;
            Assert.AreEqual(25f, Quat.AngleDegrees(Quat.Identity, RigOffsets.Head(frame, 25, 1)), 0.01f);
            Assert.AreEqual(12.5f, Quat.AngleDegrees(Quat.Identity, RigOffsets.Head(frame, 25, 0.5f)), 0.01f);
            Assert.AreEqual(0f, Quat.AngleDegrees(RigOffsets.Head(frame, 90, 1), q), 0.01f);
        }

        [Test]
        public void EyeYawToTheAvatarsLeftTurnsTheEyesToUnityMinusX()
        {
            var frame = new float[63];
            frame[59] = 0.2f;   // left eye yaw: toward the avatar's left
            float x, y, z;
            RigOffsets.Eye(frame, 0, 30, 1).Rotate(0, 0, 1, out x, out y, out z);
            Assert.Less(x, -0.15f, "Unity's x is the character's right");
            Assert.AreEqual(Math.Sin(0.2), -x, 1e-4);
        }

        [Test]
        public void GazeTargetAnglesFollowTheProtocolAndAreSentOnlyWhenMoved()
        {
            double yaw, pitch;
            GazeTarget.YawPitch(-1, 0, 1, out yaw, out pitch);   // ahead and to the character's left
            Assert.AreEqual(GazeTarget.MaxRadians, yaw, 1e-9, "45 degrees left, limited to 0.6 rad");
            GazeTarget.YawPitch(0, -0.2f, 1, out yaw, out pitch);
            Assert.AreEqual(Math.Atan(0.2), pitch, 1e-6, "below the eyes is positive pitch");
            var target = new GazeTarget();
            Assert.IsTrue(target.ShouldSend(0.1, 0, 0.0));
            Assert.IsFalse(target.ShouldSend(0.11, 0, 1.0), "under 1.5 degrees of change");
            Assert.IsTrue(target.ShouldSend(0.3, 0, 1.0));
            Assert.IsFalse(target.ShouldSend(0.5, 0, 1.05), "too soon after the last");
            Assert.IsTrue(target.ShouldSend(0.5, 0, 1.2));
            target.Reset();
            Assert.IsTrue(target.ShouldSend(0.5, 0, 1.21), "a new session is told again");
        }
    }
}
