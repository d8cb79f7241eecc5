// Telepresence: the local person's avatar follows their voice. Put this with an AvbridgeClient,
// an AvbridgeMicrophoneSender, an AvbridgeBlendshapeDriver and an AvbridgeHeadEyeDriver on the
// person's avatar. M mutes (the face relaxes at once), and unmuting picks up again.
using Avbridge.Unity;
using UnityEngine;

namespace Avbridge.Samples
{
    public sealed class TelepresenceRig : MonoBehaviour
    {
        public AvbridgeMicrophoneSender microphone;

        void Start()
        {
            if (microphone == null) microphone = GetComponent<AvbridgeMicrophoneSender>();
        }

        void Update()
        {
            if (SampleInput.MutePressed()) microphone.enabled = !microphone.enabled;
        }
    }
}
