// A compile-only stand-in for the few UnityEngine APIs the plugin's glue uses, so that
// tools/test_csharp.sh can check the glue compiles without Unity. Not shipped with the package;
// nothing here behaves like Unity.
using System;

namespace UnityEngine
{
    public class Object
    {
        public string name = "";
        public static void Destroy(Object o) { }
        public static implicit operator bool(Object o) { return o != null; }
    }
    public class Component : Object
    {
        public Transform transform;
        public T GetComponent<T>() { return default(T); }
        public T GetComponentInParent<T>() { return default(T); }
        public T GetComponentInChildren<T>() { return default(T); }
        public T[] GetComponentsInChildren<T>() { return new T[0]; }
    }
    public class Behaviour : Component { public bool enabled = true; public bool isActiveAndEnabled = true; }
    public class MonoBehaviour : Behaviour { }
    public class ScriptableObject : Object { }
    public class Transform : Component
    {
        public Quaternion localRotation, rotation;
        public Vector3 position;
        public Transform parent;
    }
    public struct Vector3
    {
        public float x, y, z;
        public Vector3(float x, float y, float z) { this.x = x; this.y = y; this.z = z; }
        public static Vector3 operator +(Vector3 a, Vector3 b) { return new Vector3(a.x + b.x, a.y + b.y, a.z + b.z); }
        public static Vector3 operator -(Vector3 a, Vector3 b) { return new Vector3(a.x - b.x, a.y - b.y, a.z - b.z); }
        public static Vector3 operator *(Vector3 a, float k) { return new Vector3(a.x * k, a.y * k, a.z * k); }
    }
    public class Mesh : Object
    {
        public int blendShapeCount { get { return 0; } }
        public string GetBlendShapeName(int index) { return ""; }
        public int GetBlendShapeFrameCount(int index) { return 1; }
        public float GetBlendShapeFrameWeight(int index, int frame) { return 100; }
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
        public int channels { get { return 1; } }
        public int frequency { get { return 48000; } }
        public static AudioClip Create(string name, int lengthSamples, int channels, int frequency, bool stream) { return new AudioClip(); }
        public bool GetData(float[] data, int offsetSamples) { return true; }
    }
    public class AudioSource : Behaviour
    {
        public AudioClip clip;
        public bool loop, spatialize, spatializePostEffects, isPlaying;
        public float time;
        public void Play() { }
        public void Stop() { }
    }
    public static class AudioSettings
    {
        public static int outputSampleRate { get { return 48000; } }
        public static void GetDSPBufferSize(out int bufferLength, out int numBuffers) { bufferLength = 1024; numBuffers = 4; }
        public static string GetSpatializerPluginName() { return ""; }
        public delegate void AudioConfigurationChangeHandler(bool deviceWasChanged);
        public static event AudioConfigurationChangeHandler OnAudioConfigurationChanged;
        static void Touch() { OnAudioConfigurationChanged(false); }
    }
    public enum UserAuthorization { WebCam = 1, Microphone = 2 }
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
    public static class Time
    {
        public static float deltaTime { get { return 0.016f; } }
        public static float unscaledDeltaTime { get { return 0.016f; } }
        public static double unscaledTimeAsDouble { get { return 0; } }
    }
    public static class Application
    {
        public static string unityVersion { get { return "stub"; } }
        public static string streamingAssetsPath { get { return "Assets/StreamingAssets"; } }
        public static bool isPlaying { get { return false; } }
        public static bool HasUserAuthorization(UserAuthorization mode) { return true; }
        public static object RequestUserAuthorization(UserAuthorization mode) { return null; }
    }
    public static class Mathf
    {
        public static float Clamp(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }
        public static float Clamp01(float v) { return Clamp(v, 0, 1); }
    }
    public struct Quaternion
    {
        public float x, y, z, w;
        public Quaternion(float x, float y, float z, float w) { this.x = x; this.y = y; this.z = z; this.w = w; }
        public static Quaternion identity { get { return new Quaternion(0, 0, 0, 1); } }
        public static Quaternion Slerp(Quaternion a, Quaternion b, float t) { return b; }
        public static float Angle(Quaternion a, Quaternion b) { return 0; }
        public static Quaternion Euler(float x, float y, float z) { return identity; }
        public static Quaternion operator *(Quaternion a, Quaternion b) { return a; }
        public static Vector3 operator *(Quaternion a, Vector3 v) { return v; }
        public static Quaternion Inverse(Quaternion q) { return q; }
    }
    [AttributeUsage(AttributeTargets.Class)] public sealed class DisallowMultipleComponent : Attribute { }
    [AttributeUsage(AttributeTargets.Class)] public sealed class AddComponentMenu : Attribute { public AddComponentMenu(string menu) { } }
    [AttributeUsage(AttributeTargets.Class, AllowMultiple = true)] public sealed class RequireComponent : Attribute { public RequireComponent(Type t) { } }
    [AttributeUsage(AttributeTargets.Class)] public sealed class CreateAssetMenuAttribute : Attribute { public string menuName; public string fileName; }
    [AttributeUsage(AttributeTargets.Field)] public sealed class TooltipAttribute : Attribute { public TooltipAttribute(string tooltip) { } }
    [AttributeUsage(AttributeTargets.Field)] public sealed class RangeAttribute : Attribute { public RangeAttribute(float min, float max) { } }
    [AttributeUsage(AttributeTargets.Field)] public sealed class HeaderAttribute : Attribute { public HeaderAttribute(string header) { } }
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

namespace UnityEngine.Events
{
    public abstract class UnityEventBase { }
    public class UnityEvent<T0> : UnityEventBase { public void Invoke(T0 a) { } public void AddListener(Action<T0> f) { } }
    public class UnityEvent<T0, T1> : UnityEventBase { public void Invoke(T0 a, T1 b) { } public void AddListener(Action<T0, T1> f) { } }
}

namespace UnityEngine.Android
{
    public static class Permission
    {
        public const string Microphone = "android.permission.RECORD_AUDIO";
        public static bool HasUserAuthorizedPermission(string permission) { return true; }
        public static void RequestUserPermission(string permission) { }
    }
}

namespace UnityEngine.InputSystem
{
    // The Input System package's keyboard, for the samples' AVBRIDGE_INPUT_SYSTEM branch.
    public sealed class KeyControl { public bool wasPressedThisFrame; }
    public sealed class Keyboard
    {
        public static Keyboard current;
        public KeyControl spaceKey = new KeyControl(), escapeKey = new KeyControl(), mKey = new KeyControl();
    }
}
