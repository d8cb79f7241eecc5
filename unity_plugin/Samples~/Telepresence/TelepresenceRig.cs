// Telepresence: the local person's avatar follows their voice. Put this with an AvbridgeClient,
// an AvbridgeMicrophoneSender, an AvbridgeBlendshapeDriver and an AvbridgeHeadEyeDriver on the
// person's avatar. M mutes (the face relaxes), and unmuting picks up again.
using Avbridge.Unity;
using UnityEngine;

public sealed class TelepresenceRig : MonoBehaviour
{
    public AvbridgeMicrophoneSender microphone;

    void Start()
    {
        if (microphone == null) microphone = GetComponent<AvbridgeMicrophoneSender>();
    }

    void Update()
    {
        if (Input.GetKeyDown(KeyCode.M)) microphone.enabled = !microphone.enabled;
    }
}
