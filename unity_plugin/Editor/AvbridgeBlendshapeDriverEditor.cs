// Shows, in the inspector, how the mapping matched the mesh: how many shapes are driven and which
// mapped shapes the mesh lacks, with a button to match again after editing either.
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
            if (GUILayout.Button("Match mapping to mesh")) driver.Remap();
            var resolved = driver.Resolved;
            if (resolved == null) return;
            EditorGUILayout.HelpBox(resolved.Mapped + " of " + resolved.MeshShapeCount + " mesh blendshapes driven.", MessageType.Info);
            if (resolved.Missing.Count > 0)
                EditorGUILayout.HelpBox("The mesh has no shape for: " + string.Join(", ", resolved.Missing.ToArray()), MessageType.Warning);
        }
    }
}
