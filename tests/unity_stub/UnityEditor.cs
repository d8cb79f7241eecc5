// Compile-only stand-in for the UnityEditor APIs the plugin's editor scripts use (see UnityEngine.cs).
using System;

namespace UnityEditor
{
    public enum PlayModeStateChange { EnteredEditMode, ExitingEditMode, EnteredPlayMode, ExitingPlayMode }
    public enum MessageType { None, Info, Warning, Error }
    public static class EditorApplication { public static event Action<PlayModeStateChange> playModeStateChanged; static void Touch() { playModeStateChanged(PlayModeStateChange.EnteredEditMode); } }
    public static class AssemblyReloadEvents { public delegate void AssemblyReloadCallback(); public static event AssemblyReloadCallback beforeAssemblyReload; static void Touch() { beforeAssemblyReload(); } }
    [AttributeUsage(AttributeTargets.Class)] public sealed class InitializeOnLoadAttribute : Attribute { }
    [AttributeUsage(AttributeTargets.Class)] public sealed class CustomEditor : Attribute { public CustomEditor(Type t) { } }
    public class Editor : UnityEngine.ScriptableObject
    {
        public UnityEngine.Object target;
        public virtual void OnInspectorGUI() { }
        public bool DrawDefaultInspector() { return true; }
        public void Repaint() { }
    }
    public static class EditorGUILayout { public static void HelpBox(string message, MessageType type) { } }
}

namespace UnityEngine
{
    public static class GUILayout { public static bool Button(string text) { return false; } }
}
