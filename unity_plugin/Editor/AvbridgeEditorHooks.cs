// Closes every avbridge socket when play mode ends and before scripts reload, so no background
// thread or open port outlives the scene (the editor freezes that other ZeroMQ bindings cause).
using Avbridge.Unity;
using UnityEditor;

namespace Avbridge.Editor
{
    [InitializeOnLoad]
    public static class AvbridgeEditorHooks
    {
        static AvbridgeEditorHooks()
        {
            EditorApplication.playModeStateChanged += state =>
            {
                if (state == PlayModeStateChange.ExitingPlayMode) AvbridgeClient.CloseAll();
            };
            AssemblyReloadEvents.beforeAssemblyReload += AvbridgeClient.CloseAll;
        }
    }
}
