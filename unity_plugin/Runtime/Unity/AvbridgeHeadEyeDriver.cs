// Turns the head (and optionally the neck) and the eyes from the client's current frame, on top
// of whatever the Animator does, without drifting when nothing else poses those bones (BonePose),
// in the character's axes whatever each bone's own axes are. Optionally keeps eye contact with a
// Transform (the player's camera, say) by telling the server where it is.
using Avbridge.Core.Rig;
using UnityEngine;

namespace Avbridge.Unity
{
    [AddComponentMenu("avbridge/Avbridge Head and Eye Driver")]
    public sealed class AvbridgeHeadEyeDriver : MonoBehaviour
    {
        public AvbridgeClient client;
        [Tooltip("Whose axes the rotations are in (faces +z). Empty: this GameObject.")]
        public Transform characterRoot;
        public Transform head;
        [Tooltip("Optional: takes neckShare of the head rotation.")]
        public Transform neck;
        [Range(0f, 1f)] public float neckShare = 0.4f;
        public Transform leftEye;
        public Transform rightEye;
        [Range(0f, 1f)] public float headWeight = 1f;
        [Range(0f, 1f)] public float eyeWeight = 1f;
        [Tooltip("Largest head rotation from the animated pose, degrees.")]
        public float maxHeadDegrees = 25f;
        [Tooltip("Largest eye rotation, degrees.")]
        public float maxEyeDegrees = 30f;
        [Tooltip("Optional: eye contact goes here (e.g. the main camera); the avatar's idle gaze and head follow it.")]
        public Transform gazeTarget;

        readonly BonePose _neckPose = new BonePose(), _headPose = new BonePose();
        readonly BonePose _leftPose = new BonePose(), _rightPose = new BonePose();
        readonly GazeTarget _gaze = new GazeTarget();
        Quat _headRestInRoot = Quat.Identity;

        void Awake()
        {
            if (client == null) client = GetComponentInParent<AvbridgeClient>();
            if (characterRoot == null) characterRoot = transform;
        }

        void OnEnable()
        {
            if (head != null) _headRestInRoot = RigOffsets.InRoot(characterRoot.rotation.ToQuat(), head.rotation.ToQuat());
            if (client != null) client.Reconnected += ForgetGaze;
            _gaze.Reset();
        }

        void OnDisable()
        {
            // Give the bones back as they were before our offset.
            Release(neck, _neckPose);
            Release(head, _headPose);
            Release(leftEye, _leftPose);
            Release(rightEye, _rightPose);
            if (client != null) client.Reconnected -= ForgetGaze;
        }

        void ForgetGaze(string why) { _gaze.Reset(); }

        static void Release(Transform bone, BonePose pose)
        {
            if (bone != null) bone.localRotation = pose.Release(bone.localRotation.ToQuat()).ToUnity();
        }

        void LateUpdate()
        {
            if (client == null) return;
            var frame = client.CurrentFrame;
            var root = characterRoot.rotation.ToQuat();
            var offset = RigOffsets.Head(frame, maxHeadDegrees, headWeight);
            if (neck != null)
            {
                Drive(neck, _neckPose, RigOffsets.InRoot(root, ParentRotation(neck)), Quat.Slerp(Quat.Identity, offset, neckShare));
                offset = Quat.Slerp(Quat.Identity, offset, 1f - neckShare);
            }
            if (head != null) Drive(head, _headPose, RigOffsets.InRoot(root, ParentRotation(head)), offset);
            var headWorld = head != null ? head.rotation.ToQuat() : root;
            var headRest = head != null ? _headRestInRoot : Quat.Identity;
            if (leftEye != null)
                Drive(leftEye, _leftPose, RigOffsets.EyeParentInFrame(root, headWorld, headRest, ParentRotation(leftEye)),
                      RigOffsets.Eye(frame, 0, maxEyeDegrees, eyeWeight));
            if (rightEye != null)
                Drive(rightEye, _rightPose, RigOffsets.EyeParentInFrame(root, headWorld, headRest, ParentRotation(rightEye)),
                      RigOffsets.Eye(frame, 1, maxEyeDegrees, eyeWeight));
            if (gazeTarget != null && client.IsConnected) AimAt(gazeTarget.position);
        }

        static Quat ParentRotation(Transform bone) { return bone.parent != null ? bone.parent.rotation.ToQuat() : Quat.Identity; }

        static void Drive(Transform bone, BonePose pose, Quat parentInFrame, Quat offset)
        {
            bone.localRotation = pose.Apply(bone.localRotation.ToQuat(), parentInFrame, offset).ToUnity();
        }

        void AimAt(Vector3 target)
        {
            var from = leftEye != null && rightEye != null ? (leftEye.position + rightEye.position) * 0.5f
                     : head != null ? head.position : characterRoot.position;
            var local = Quaternion.Inverse(characterRoot.rotation) * (target - from);
            double yaw, pitch;
            GazeTarget.YawPitch(local.x, local.y, local.z, out yaw, out pitch);
            if (_gaze.ShouldSend(yaw, pitch, Time.unscaledTimeAsDouble)) client.SetGazeTarget((float)yaw, (float)pitch);
        }
    }
}
