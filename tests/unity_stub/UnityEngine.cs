// A compile-only stand-in for the few UnityEngine APIs the plugin's glue uses, so that
// tools/test_csharp.sh can check the glue compiles without Unity. Not shipped with the package;
// nothing here behaves like Unity.
using System;

namespace UnityEngine
{
    public class Object { public string name = ""; }
    public class Component : Object
    {
        public T GetComponent<T>() { return default(T); }
        public T GetComponentInParent<T>() { return default(T); }
        public T GetComponentInChildren<T>() { return default(T); }
    }
    public class Behaviour : Component { public bool enabled = true; }
    public class MonoBehaviour : Behaviour { }
    public class ScriptableObject : Object { }
    public class Transform : Component { public Quaternion localRotation; }
    public class Mesh : Object
    {
        public int blendShapeCount { get { return 0; } }
        public string GetBlendShapeName(int index) { return ""; }
    }
    public class SkinnedMeshRenderer : Component
    {
        public Mesh sharedMesh;
        public float GetBlendShapeWeight(int index) { return 0; }
        public void SetBlendShapeWeight(int index, float value) { }
    }
    public class AudioClip : Object
    {
        public int samples { get { return 0; } }
        public static AudioClip Create(string name, int lengthSamples, int channels, int frequency, bool stream) { return new AudioClip(); }
        public bool GetData(float[] data, int offsetSamples) { return true; }
    }
    public class AudioSource : Behaviour
    {
        public AudioClip clip;
        public bool loop;
        public void Play() { }
        public void Stop() { }
    }
    public static class AudioSettings { public static int outputSampleRate { get { return 48000; } } }
    public static class Microphone
    {
        public static AudioClip Start(string device, bool loop, int lengthSec, int frequency) { return new AudioClip(); }
        public static void End(string device) { }
        public static int GetPosition(string device) { return 0; }
    }
    public static class Debug
    {
        public static void LogError(object message, Object context = null) { }
        public static void LogWarning(object message, Object context = null) { }
        public static void Log(object message, Object context = null) { }
    }
    public static class Time { public static float deltaTime { get { return 0.016f; } } }
    public static class Application { public static string unityVersion { get { return "stub"; } } }
    public static class Mathf { public static float Clamp(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; } }
    public struct Quaternion
    {
        public float x, y, z, w;
        public Quaternion(float x, float y, float z, float w) { this.x = x; this.y = y; this.z = z; this.w = w; }
        public static Quaternion identity { get { return new Quaternion(0, 0, 0, 1); } }
        public static Quaternion Slerp(Quaternion a, Quaternion b, float t) { return b; }
        public static float Angle(Quaternion a, Quaternion b) { return 0; }
        public static Quaternion Euler(float x, float y, float z) { return identity; }
        public static Quaternion operator *(Quaternion a, Quaternion b) { return a; }
    }
    [AttributeUsage(AttributeTargets.Class)] public sealed class DisallowMultipleComponent : Attribute { }
    [AttributeUsage(AttributeTargets.Class)] public sealed class AddComponentMenu : Attribute { public AddComponentMenu(string menu) { } }
    [AttributeUsage(AttributeTargets.Class, AllowMultiple = true)] public sealed class RequireComponent : Attribute { public RequireComponent(Type t) { } }
    [AttributeUsage(AttributeTargets.Class)] public sealed class CreateAssetMenuAttribute : Attribute { public string menuName; public string fileName; }
    [AttributeUsage(AttributeTargets.Field)] public sealed class TooltipAttribute : Attribute { public TooltipAttribute(string tooltip) { } }
    [AttributeUsage(AttributeTargets.Field)] public sealed class RangeAttribute : Attribute { public RangeAttribute(float min, float max) { } }
}

namespace UnityEngine
{
    // Used by the package's samples.
    public enum KeyCode { None, Space, Escape, M }
    public static class Input { public static bool GetKeyDown(KeyCode key) { return false; } }
    public struct Rect { public Rect(float x, float y, float width, float height) { } }
    public static class Screen { public static int width { get { return 1920; } } public static int height { get { return 1080; } } }
    public static class GUI { public static void Label(Rect position, string text) { } }
    [AttributeUsage(AttributeTargets.Field)] public sealed class TextAreaAttribute : Attribute { }
}
