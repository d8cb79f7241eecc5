// Blendshapes on the conventions of real rigs: glTFast/RPM weights in 0..1, shapes other systems
// drive, several meshes, side suffixes, Ready Player Me's default mesh, VRoid's Fcl_ shapes. Each
// test names the finding it covers (issue 13's list).
using System.Collections.Generic;
using Avbridge.Core.Mapping;
using NUnit.Framework;

namespace Avbridge.Tests
{
    [TestFixture]
    public class BlendshapeTests
    {
        /// <summary>A mesh's weights as Unity holds them; counts writes.</summary>
        sealed class FakeMesh : IBlendshapeMesh
        {
            public readonly float[] Weights;
            public int Writes;
            public FakeMesh(int n) { Weights = new float[n]; }
            public float GetWeight(int shape) { return Weights[shape]; }
            public void SetWeight(int shape, float weight) { Weights[shape] = weight; Writes++; }
        }

        static float[] Frame(params object[] pairs)
        {
            var f = new float[63];
            f[55] = 1;
            for (int i = 0; i < pairs.Length; i += 2) f[ArkitNames.IndexOf((string)pairs[i])] = (float)(double)pairs[i + 1];
            return f;
        }

        static float[] Full(int n, float value) { var f = new float[n]; for (int i = 0; i < n; i++) f[i] = value; return f; }

        [Test]
        public void Finding2_AGltfMeshGetsWeightsInItsOwnZeroToOneRange()
        {
            var names = new List<string> { "jawOpen", "eyeBlinkLeft" };
            var layer = new BlendshapeLayer(new ResolvedMapping(BlendshapeMapping.Arkit(), names), Full(2, 1f));   // glTFast: frame weight 1
            var mesh = new FakeMesh(2);
            layer.Apply(Frame("jawOpen", 0.5, "eyeBlinkLeft", 1.0), 1f, BlendMode.Additive, mesh);
            Assert.AreEqual(0.5f, mesh.Weights[0], 1e-6f, "not 50: that is 100 times the deformation");
            Assert.AreEqual(1f, mesh.Weights[1], 1e-6f);
            var fbx = new BlendshapeLayer(new ResolvedMapping(BlendshapeMapping.Arkit(), names), Full(2, 100f));
            var fbxMesh = new FakeMesh(2);
            fbx.Apply(Frame("jawOpen", 0.5), 1f, BlendMode.Additive, fbxMesh);
            Assert.AreEqual(50f, fbxMesh.Weights[0], 1e-4f);
        }

        [Test]
        public void Finding3_ShapesOthersDriveAreKeptAndNothingIsForcedToNeutral()
        {
            var names = new List<string> { "jawOpen", "mouthSmileLeft", "customFrown" };
            var mapping = new ResolvedMapping(BlendshapeMapping.Arkit(), names);
            var layer = new BlendshapeLayer(mapping, Full(3, 100f));
            var mesh = new FakeMesh(3);
            mesh.Weights[2] = 70f;   // a shape no target maps, driven by a script
            for (int frame = 0; frame < 10; frame++)
            {
                mesh.Weights[1] = 40f;   // the Animator writes a smile each frame, before LateUpdate
                layer.Apply(Frame("jawOpen", 0.3, "mouthSmileLeft", 0.1), 1f, BlendMode.Additive, mesh);
                Assert.AreEqual(50f, mesh.Weights[1], 1e-3f, "the smile is the Animator's 40 plus our 10");
            }
            Assert.AreEqual(70f, mesh.Weights[2], "an unmapped shape is never written");
            Assert.AreEqual(30f, mesh.Weights[0], 1e-3f);
            // Nothing said, nobody else animating: the jaw returns to what it was before us (0),
            // and a pose someone set by hand while we were silent is not reset.
            layer.Apply(Frame(), 1f, BlendMode.Additive, mesh);
            Assert.AreEqual(0f, mesh.Weights[0], 1e-3f);
            mesh.Weights[0] = 25f;   // a Timeline clip opens the jaw
            for (int i = 0; i < 3; i++) layer.Apply(Frame(), 1f, BlendMode.Additive, mesh);
            Assert.AreEqual(25f, mesh.Weights[0], 1e-3f);
            layer.Release(mesh);
            Assert.AreEqual(25f, mesh.Weights[0], 1e-3f);
        }

        [Test]
        public void Finding3_WeightsThatDoNotChangeAreNotWrittenAgain()
        {
            var layer = new BlendshapeLayer(new ResolvedMapping(BlendshapeMapping.Arkit(), new List<string> { "jawOpen" }), Full(1, 100f));
            var mesh = new FakeMesh(1);
            layer.Apply(Frame("jawOpen", 0.3), 1f, BlendMode.Additive, mesh);
            int writes = mesh.Writes;
            layer.Apply(Frame("jawOpen", 0.3), 1f, BlendMode.Additive, mesh);
            Assert.AreEqual(writes, mesh.Writes);
        }

        [Test]
        public void Finding2_ReadyPlayerMesDefaultMeshIsDriven()
        {
            // A default RPM avatar (no morphTargets=ARKit): mouthOpen, mouthSmile, eyesClosed,
            // eyesLookUp/Down, with the Oculus visemes when requested.
            var rpm = new List<string> { "mouthOpen", "mouthSmile", "eyesClosed", "eyesLookUp", "eyesLookDown" };
            var resolved = new ResolvedMapping(BlendshapeMapping.Preset(MappingPreset.ReadyPlayerMe), rpm);
            Assert.AreEqual(5, resolved.Mapped, "0 of 52 matched before");
            var weights = new float[5];
            resolved.Apply(Frame("jawOpen", 0.4, "eyeBlinkLeft", 1.0, "eyeBlinkRight", 1.0), weights, 1f);
            Assert.AreEqual(0.4f, weights[0], 1e-5f);
            Assert.AreEqual(1f, weights[2], 1e-5f);
            var visemes = new List<string>(rpm) { "viseme_sil", "viseme_PP", "viseme_aa", "viseme_O", "viseme_U", "eyeBlinkLeft", "eyeBlinkRight" };
            var withVisemes = new ResolvedMapping(BlendshapeMapping.Preset(MappingPreset.ReadyPlayerMe), visemes);
            var names = new List<string>();
            for (int t = 0; t < withVisemes.Mapped; t++) names.Add(visemes[withVisemes.MeshIndex(t)]);
            CollectionAssert.DoesNotContain(names, "mouthOpen", "the jaw is not driven twice (mouthOpen and viseme_aa)");
            CollectionAssert.DoesNotContain(names, "eyesClosed", "nor the blink (eyesClosed and eyeBlinkLeft/Right)");
            CollectionAssert.Contains(names, "viseme_PP");
            // With the 52 ARKit shapes as well, those win and the visemes are left alone.
            var full = new List<string>(ArkitNames.All) { "viseme_aa", "mouthOpen" };
            Assert.AreEqual(52, new ResolvedMapping(BlendshapeMapping.Preset(MappingPreset.ReadyPlayerMe), full).Mapped);
        }

        [Test]
        public void Finding15_VRoidMeshShapesAndVrmExpressionsAreSeparatePresets()
        {
            var vroid = new List<string> { "Fcl_ALL_Neutral", "Fcl_ALL_Angry", "Fcl_ALL_Fun", "Fcl_ALL_Joy", "Fcl_ALL_Sorrow", "Fcl_EYE_Close",
                                           "Fcl_EYE_Close_L", "Fcl_EYE_Close_R", "Fcl_MTH_A", "Fcl_MTH_I", "Fcl_MTH_U", "Fcl_MTH_E", "Fcl_MTH_O" };
            Assert.AreEqual(11, new ResolvedMapping(BlendshapeMapping.Preset(MappingPreset.VRoid), vroid).Mapped, "0 of 11 before");
            Assert.AreEqual(0, new ResolvedMapping(BlendshapeMapping.Preset(MappingPreset.Vrm0), vroid).Mapped,
                            "VRM presets name expressions; AvbridgeVrmDriver drives them through UniVRM");
            Assert.IsTrue(BlendshapeMapping.IsExpressionPreset(MappingPreset.Vrm1));
            var vrm1 = new List<string> { "aa", "ih", "ou", "ee", "oh", "blink", "blinkLeft", "blinkRight", "happy", "sad", "angry", "relaxed" };
            Assert.AreEqual(11, new ResolvedMapping(BlendshapeMapping.Preset(MappingPreset.Vrm1), vrm1).Mapped);
        }

        [Test]
        public void Finding16_SideSuffixesMatch()
        {
            Assert.AreEqual(BlendshapeMapping.Normalize("eyeBlinkLeft"), BlendshapeMapping.Normalize("eyeBlink_L"));
            Assert.AreEqual(BlendshapeMapping.Normalize("eyeBlinkRight"), BlendshapeMapping.Normalize("EyeBlink.R"));
            Assert.AreEqual(BlendshapeMapping.Normalize("mouthSmileLeft"), BlendshapeMapping.Normalize("blendShape1.mouthSmile_L"));
            Assert.AreNotEqual(BlendshapeMapping.Normalize("eyeBlinkLeft"), BlendshapeMapping.Normalize("eyeBlink_R"));
            var names = new List<string> { "eyeBlink_L", "eyeBlink_R", "jawOpen" };
            Assert.AreEqual(3, new ResolvedMapping(BlendshapeMapping.Arkit(), names).Mapped);
        }

        [Test]
        public void Finding16_EveryMeshOfAFaceGetsItsOwnShapes()
        {
            // Head, teeth and tongue as separate meshes, each resolved on its own (the driver holds one layer a mesh).
            var head = new ResolvedMapping(BlendshapeMapping.Arkit(), new List<string> { "jawOpen", "eyeBlinkLeft", "mouthSmileLeft" });
            var teeth = new ResolvedMapping(BlendshapeMapping.Arkit(), new List<string> { "jawOpen" });
            var tongue = new ResolvedMapping(BlendshapeMapping.Arkit(), new List<string> { "jawOpen", "tongueOut" });
            var meshes = new[] { new FakeMesh(3), new FakeMesh(1), new FakeMesh(2) };
            var layers = new[] { new BlendshapeLayer(head, Full(3, 100)), new BlendshapeLayer(teeth, Full(1, 100)), new BlendshapeLayer(tongue, Full(2, 1)) };
            var frame = Frame("jawOpen", 0.5, "tongueOut", 0.8);
            for (int i = 0; i < 3; i++) layers[i].Apply(frame, 1f, BlendMode.Additive, meshes[i]);
            Assert.AreEqual(50f, meshes[0].Weights[0], 1e-4f);
            Assert.AreEqual(50f, meshes[1].Weights[0], 1e-4f);
            Assert.AreEqual(0.8f, meshes[2].Weights[1], 1e-5f);
        }
    }
}
