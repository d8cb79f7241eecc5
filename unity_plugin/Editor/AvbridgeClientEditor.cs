// Shows, while playing, what the client is doing: connection state, the session, seconds of speech
// buffered, lines pending, and the last error, so "why is my NPC silent" is answered in the
// inspector rather than the console.
using Avbridge.Core;
using Avbridge.Unity;
using UnityEditor;
using UnityEngine;

namespace Avbridge.Editor
{
    [CustomEditor(typeof(AvbridgeClient))]
    public sealed class AvbridgeClientEditor : UnityEditor.Editor
    {
        public override void OnInspectorGUI()
        {
            DrawDefaultInspector();
            if (!Application.isPlaying) return;
            var client = (AvbridgeClient)target;
            var controller = client.Controller;
            if (controller == null) { EditorGUILayout.HelpBox("Not started.", MessageType.Info); return; }
            var link = controller.Link;
            string session = link != null && link.SessionId != null ? link.SessionId : "none";
            string buffered = link != null ? link.Stream.BufferedSeconds.ToString("F2") + " s" : "-";
            EditorGUILayout.HelpBox("State: " + controller.State + "\nSession: " + session + "\nBuffered speech: " + buffered
                                    + "\nLines pending: " + controller.PendingLines + (controller.IsSpeaking ? "\nSpeaking" : ""),
                                    MessageType.Info);
            if (controller.LastError != null) EditorGUILayout.HelpBox(controller.LastError, MessageType.Warning);
            Repaint();   // live values while playing
        }
    }
}
