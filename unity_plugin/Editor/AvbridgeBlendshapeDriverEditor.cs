// Shows, in the inspector, how the mapping matched each mesh of the face: how many shapes are
// driven, at which full weight (100 for FBX, 1 for glTF), and which mapped shapes a mesh lacks,
// with a button to match again after editing either.
using Avbridge.Unity;
using UnityEditor;
using UnityEngine;

namespace Avbridge.Editor
{
    [CustomEditor(typeof(AvbridgeBlendshapeDriver))]
    public sealed class AvbridgeBlendshapeDriverEditor : UnityEditor.Editor
    {
        public override void OnInspectorGUI()
        {
            DrawDefaultInspector();
            var driver = (AvbridgeBlendshapeDriver)target;
            if (GUILayout.Button("Match mapping to meshes")) driver.Remap();
            bool any = false;
            foreach (var match in driver.Matches)
            {
                any = true;
                var resolved = match.Value;
                EditorGUILayout.HelpBox(match.Key + ": " + resolved.Mapped + " of " + resolved.MeshShapeCount + " blendshapes driven.", MessageType.Info);
                if (resolved.Missing.Count > 0 && resolved.Missing.Count < 52)
                    EditorGUILayout.HelpBox(match.Key + " has no shape for: " + string.Join(", ", resolved.Missing.ToArray()), MessageType.None);
            }
            if (!any) EditorGUILayout.HelpBox("No mesh matched yet (press the button, or enter play mode).", MessageType.Warning);
        }
    }
}
