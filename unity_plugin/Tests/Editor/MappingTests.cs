using System.Collections.Generic;
using Avbridge.Core.Mapping;
using NUnit.Framework;

namespace Avbridge.Tests
{
    [TestFixture]
    public class MappingTests
    {
        static float[] Frame(params object[] nameValue)
        {
            var f = new float[63];
            f[55] = 1;
            for (int i = 0; i < nameValue.Length; i += 2) f[ArkitNames.IndexOf((string)nameValue[i])] = (float)(double)nameValue[i + 1];
            return f;
        }

        [Test]
        public void ArkitRigsMatchWithoutCaseOrPrefixes()
        {
            var mesh = new List<string> { "blendShape1.JawOpen", "ARKit_eyeBlinkLeft", "EYEBLINKRIGHT", "someOtherShape" };
            var resolved = new ResolvedMapping(BlendshapeMapping.Preset(MappingPreset.Arkit), mesh);
            Assert.AreEqual(3, resolved.Mapped);
            Assert.AreEqual(49, resolved.Missing.Count);
            var weights = new float[] { 0, 0, 0, 42 };
            resolved.Apply(Frame("jawOpen", 0.5, "eyeBlinkLeft", 1.0), weights, 100f);
            CollectionAssert.AreEqual(new float[] { 50, 100, 0, 42 }, weights);
        }

        [Test]
        public void VrmVowelsAreBlendedFromArkitChannels()
        {
            var mesh = new List<string> { "aa", "ih", "ou", "ee", "oh", "blinkLeft", "blinkRight", "happy", "sad", "angry", "relaxed" };
            var resolved = new ResolvedMapping(BlendshapeMapping.Preset(MappingPreset.Vrm1), mesh);
            Assert.AreEqual(11, resolved.Mapped);
            var weights = new float[mesh.Count];
            resolved.Apply(Frame("jawOpen", 0.6, "mouthClose", 0.0), weights, 100f);
            Assert.AreEqual(66f, weights[0], 0.01f);
            resolved.Apply(Frame("jawOpen", 0.05, "mouthClose", 0.05), weights, 100f);
            Assert.AreEqual(0f, weights[0], 0.01f, "closed lips: no aa");
            resolved.Apply(Frame("mouthPucker", 0.8), weights, 100f);
            Assert.AreEqual(80f, weights[2], 0.01f);
        }

        [Test]
        public void Vrm0UsesItsOwnClipNames()
        {
            var resolved = new ResolvedMapping(BlendshapeMapping.Preset(MappingPreset.Vrm0), new List<string> { "A", "Blink_L", "Joy" });
            Assert.AreEqual(3, resolved.Mapped);
        }

        [Test]
        public void HeadAndEyesConvertToUnityAxes()
        {
            // 10 degrees of yaw to the avatar's left about +y (avbridge) is -10 degrees in Unity.
            float half = (float)(10 * System.Math.PI / 360);
            var f = Frame();
            f[53] = (float)System.Math.Sin(half); f[55] = (float)System.Math.Cos(half);
            f[56] = 0.01f;
            f[59] = 0.1f; f[60] = 0.05f;
            var q = new float[4];
            UnityAxes.HeadRotation(f, q);
            Assert.AreEqual(-System.Math.Sin(half), q[1], 1e-6);
            var t = new float[3];
            UnityAxes.HeadTranslation(f, t);
            Assert.AreEqual(-0.01f, t[0], 1e-6f);
            var euler = new float[3];
            UnityAxes.EyeEuler(f, 0, euler);
            Assert.AreEqual(-5.7296f, euler[1], 1e-3f);
            Assert.AreEqual(2.8648f, euler[0], 1e-3f);
        }
    }
}
