// Turns the head (and optionally the neck) and the eyes from the client's current frame, on top
// of whatever the animator does, with a weight and angle limits.
using Avbridge.Core.Mapping;
using UnityEngine;

namespace Avbridge.Unity
{
    [AddComponentMenu("avbridge/Avbridge Head and Eye Driver")]
    public sealed class AvbridgeHeadEyeDriver : MonoBehaviour
    {
        public AvbridgeClient client;
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

        readonly float[] _q = new float[4];
        readonly float[] _euler = new float[3];

        void Start()
        {
            if (client == null) client = GetComponentInParent<AvbridgeClient>();
        }

        void LateUpdate()
        {
            if (client == null) return;
            var frame = client.CurrentFrame;
            UnityAxes.HeadRotation(frame, _q);
            var rotation = new Quaternion(_q[0], _q[1], _q[2], _q[3]);
            float angle = Quaternion.Angle(Quaternion.identity, rotation);
            if (angle > maxHeadDegrees) rotation = Quaternion.Slerp(Quaternion.identity, rotation, maxHeadDegrees / angle);
            rotation = Quaternion.Slerp(Quaternion.identity, rotation, headWeight);
            if (neck != null)
            {
                neck.localRotation = neck.localRotation * Quaternion.Slerp(Quaternion.identity, rotation, neckShare);
                rotation = Quaternion.Slerp(Quaternion.identity, rotation, 1f - neckShare);
            }
            if (head != null) head.localRotation = head.localRotation * rotation;
            ApplyEye(leftEye, frame, 0);
            ApplyEye(rightEye, frame, 1);
        }

        void ApplyEye(Transform eye, float[] frame, int index)
        {
            if (eye == null) return;
            UnityAxes.EyeEuler(frame, index, _euler);
            float pitch = Mathf.Clamp(_euler[0], -maxEyeDegrees, maxEyeDegrees) * eyeWeight;
            float yaw = Mathf.Clamp(_euler[1], -maxEyeDegrees, maxEyeDegrees) * eyeWeight;
            eye.localRotation = eye.localRotation * Quaternion.Euler(pitch, yaw, 0f);
        }
    }
}
