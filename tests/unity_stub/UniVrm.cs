// Compile-only stand-in for the UniVRM APIs AvbridgeVrmDriver uses (VRM 0.x and 1.0), with the
// names and signatures of UniVRM's public API, so tools/test_csharp.sh can compile the driver with
// both of its defines. Nothing here behaves like UniVRM.
namespace VRM
{
    public enum BlendShapePreset { Unknown, Neutral, A, I, U, E, O, Blink, Joy, Angry, Sorrow, Fun, LookUp, LookDown, LookLeft, LookRight, Blink_L, Blink_R }
    public struct BlendShapeKey
    {
        public static BlendShapeKey CreateFromPreset(BlendShapePreset preset) { return new BlendShapeKey(); }
        public static BlendShapeKey CreateUnknown(string name) { return new BlendShapeKey(); }
    }
    public class VRMBlendShapeProxy : UnityEngine.MonoBehaviour
    {
        public void AccumulateValue(BlendShapeKey key, float value) { }
        public void Apply() { }
    }
}

namespace UniVRM10
{
    public enum ExpressionPreset { custom, happy, angry, sad, relaxed, surprised, aa, ih, ou, ee, oh, blink, blinkLeft, blinkRight, lookUp, lookDown, lookLeft, lookRight, neutral }
    public struct ExpressionKey
    {
        public static ExpressionKey CreateFromPreset(ExpressionPreset preset) { return new ExpressionKey(); }
        public static ExpressionKey CreateCustom(string name) { return new ExpressionKey(); }
    }
    public sealed class Vrm10RuntimeExpression { public void SetWeight(ExpressionKey key, float weight) { } }
    public sealed class Vrm10Runtime { public Vrm10RuntimeExpression Expression = new Vrm10RuntimeExpression(); }
    public class Vrm10Instance : UnityEngine.MonoBehaviour { public Vrm10Runtime Runtime; }
}
