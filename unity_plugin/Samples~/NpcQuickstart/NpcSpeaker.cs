// NPC quick start: put this beside an AvbridgeClient, an AvbridgeAudioPlayer (with its AudioSource),
// an AvbridgeBlendshapeDriver and an AvbridgeHeadEyeDriver. Space says the next line; Escape
// interrupts. Subtitles come from the Word event, in time with the voice.
using Avbridge.Unity;
using UnityEngine;

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
        client.UtteranceStarted += id => _subtitle = "";
        client.Error += (code, message) => Debug.LogWarning("avbridge " + code + ": " + message);
    }

    void Update()
    {
        if (Input.GetKeyDown(KeyCode.Space)) client.Say(lines[_next++ % lines.Length]);
        if (Input.GetKeyDown(KeyCode.Escape)) client.Interrupt();
    }

    void OnGUI() { GUI.Label(new Rect(20, Screen.height - 60, Screen.width - 40, 40), _subtitle); }
}
