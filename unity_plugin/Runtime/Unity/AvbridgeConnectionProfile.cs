// Where and how to connect, as an asset: one profile shared by every NPC in a project (or one per
// build: a local server in the editor, a studio machine in a build), instead of the same endpoint
// typed into each client.
using UnityEngine;

namespace Avbridge.Unity
{
    [CreateAssetMenu(menuName = "avbridge/Connection Profile", fileName = "AvbridgeConnectionProfile")]
    public sealed class AvbridgeConnectionProfile : ScriptableObject
    {
        [Tooltip("The server's control endpoint (avbridge serve --bind).")]
        public string endpoint = "tcp://127.0.0.1:5570";
        [Tooltip("Animation frames per second the server generates.")]
        public float fps = 60f;
        [Tooltip("piper (natural) or espeak (instant, robotic); empty for the server's default.")]
        public string voice = "";
        [Tooltip("Seconds between connection attempts while the server cannot be reached (0: try once).")]
        public float retrySeconds = 2f;
        [Tooltip("Seconds without traffic before the link counts as dead and reconnects.")]
        public float heartbeatTimeoutSeconds = 5f;

        [Header("Security (CurveZMQ): needed to reach a server beyond loopback")]
        [Tooltip("The server's public key: its 40 z85 characters, or its .key file (absolute, or relative to StreamingAssets). Empty: plaintext.")]
        public string serverPublicKey = "";
        [Tooltip("This client's key pair: the .key_secret file `avbridge keys NAME` made (absolute, or relative to StreamingAssets). Its NAME.key goes into the server's --curve-clients folder.")]
        public string clientKeyFile = "";
    }
}
