// NPC quick start: put this beside an AvbridgeClient, an AvbridgeAudioPlayer (with its AudioSource),
// an AvbridgeBlendshapeDriver and an AvbridgeHeadEyeDriver (the NPC prefab in this sample has them
// all). Space says the next line; Escape interrupts. Subtitles come from the Word event, in time
// with the voice; the console says which line finished and how.
using Avbridge.Core;
using Avbridge.Unity;
using UnityEngine;

namespace Avbridge.Samples
{
    public sealed class NpcSpeaker : MonoBehaviour
    {
        public AvbridgeClient client;
        [TextArea] public string[] lines =
        {
            "Welcome, traveller. The market opens at dawn.",
            "Bob the blacksmith will mend your sword for a fair price.",
            "Mind the bridge on the river road; the planks are old.",
        };
        int _next;
        string _subtitle = "";

        void Start()
        {
            if (client == null) client = GetComponent<AvbridgeClient>();
            client.Word += word => _subtitle += word + " ";
            client.UtteranceStarted += line => _subtitle = "";
            client.UtteranceFinished += line => Debug.Log("avbridge sample: line " + line.Id + " " + line.State);
            client.Error += (code, message) => Debug.LogWarning("avbridge " + code + ": " + message);
        }

        void Update()
        {
            if (SampleInput.SpeakPressed()) client.Say(lines[_next++ % lines.Length]);
            if (SampleInput.InterruptPressed()) client.Interrupt();
        }

        void OnGUI() { GUI.Label(new Rect(20, Screen.height - 60, Screen.width - 40, 40), _subtitle); }
    }
}
