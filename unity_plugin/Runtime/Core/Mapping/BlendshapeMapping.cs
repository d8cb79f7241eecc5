// From the 52 ARKit weights in a frame to a mesh's own blendshapes.
//
// A mapping is a list of targets: a mesh blendshape name and the ARKit channels that drive it, each
// with a weight (mesh weight = clamp(sum of weight x channel, 0, 1)). An ARKit-named rig maps one to
// one; a VRM or viseme rig blends several channels into each of its few shapes. Mesh names are
// matched without regard to case, to prefixes such as "blendShape1." or "ARKit_", and to how a
// side is written ("eyeBlink_L", "eyeBlink.L", "eyeBlinkLeft" are one name).
//
// A preset may hold alternatives (Ready Player Me: the 52 ARKit shapes when the avatar was made
// with them, else its default mouthOpen/mouthSmile/eyesClosed and Oculus visemes); the one that
// matches most of a mesh's shapes is used, so two sets never drive the same mouth twice.
using System;
using System.Collections.Generic;

namespace Avbridge.Core.Mapping
{
    public sealed class MappingTarget
    {
        public string MeshShape;
        public readonly List<KeyValuePair<int, float>> Sources = new List<KeyValuePair<int, float>>();
        /// <summary>Skip this target on a mesh that has this shape too (it would do the same work twice).</summary>
        public string UnlessMeshHas;

        public MappingTarget(string meshShape, params object[] channelWeightPairs)
        {
            MeshShape = meshShape;
            for (int i = 0; i < channelWeightPairs.Length; i += 2)
            {
                int index = ArkitNames.IndexOf((string)channelWeightPairs[i]);
                if (index < 0) throw new ArgumentException("not an ARKit blendshape: " + channelWeightPairs[i]);
                Sources.Add(new KeyValuePair<int, float>(index, Convert.ToSingle(channelWeightPairs[i + 1])));
            }
        }
    }

    /// <summary>Arkit, ReadyPlayerMe and VRoid name mesh blendshapes; Vrm0 and Vrm1 name VRM
    /// expressions (driven through UniVRM's expression API by AvbridgeVrmDriver, not as mesh shapes).</summary>
    public enum MappingPreset { Arkit, Vrm0, Vrm1, ReadyPlayerMe, VRoid }

    public sealed class BlendshapeMapping
    {
        public readonly List<MappingTarget> Targets = new List<MappingTarget>();
        /// <summary>Other target sets for other meshes; the best-matching set is used.</summary>
        public readonly List<BlendshapeMapping> Alternatives = new List<BlendshapeMapping>();

        public static BlendshapeMapping Preset(MappingPreset preset)
        {
            switch (preset)
            {
                case MappingPreset.Arkit: return Arkit();
                case MappingPreset.ReadyPlayerMe: return ReadyPlayerMe();
                case MappingPreset.VRoid: return Vrm(new[] { "Fcl_MTH_A", "Fcl_MTH_I", "Fcl_MTH_U", "Fcl_MTH_E", "Fcl_MTH_O", "Fcl_EYE_Close",
                                                             "Fcl_EYE_Close_L", "Fcl_EYE_Close_R", "Fcl_ALL_Joy", "Fcl_ALL_Sorrow", "Fcl_ALL_Angry", "Fcl_ALL_Fun" });
                case MappingPreset.Vrm0: return Vrm(new[] { "A", "I", "U", "E", "O", "Blink", "Blink_L", "Blink_R", "Joy", "Sorrow", "Angry", "Fun" });
                default: return Vrm(new[] { "aa", "ih", "ou", "ee", "oh", "blink", "blinkLeft", "blinkRight", "happy", "sad", "angry", "relaxed" });
            }
        }

        /// <summary>True for presets that name VRM expressions rather than mesh shapes.</summary>
        public static bool IsExpressionPreset(MappingPreset preset) { return preset == MappingPreset.Vrm0 || preset == MappingPreset.Vrm1; }

        /// <summary>One mesh shape per ARKit channel, named as in ARKit.</summary>
        public static BlendshapeMapping Arkit()
        {
            var m = new BlendshapeMapping();
            foreach (var name in ArkitNames.All) m.Targets.Add(new MappingTarget(name, name, 1f));
            return m;
        }

        /// <summary>Ready Player Me: the 52 ARKit shapes exist only when the avatar is requested with
        /// them (morphTargets=ARKit); a default avatar has mouthOpen, mouthSmile, eyesClosed,
        /// eyesLookUp/Down, and the Oculus visemes when asked for. Both are here as alternatives.</summary>
        public static BlendshapeMapping ReadyPlayerMe()
        {
            var m = Arkit();
            var basic = new BlendshapeMapping();
            basic.Targets.Add(new MappingTarget("mouthOpen", "jawOpen", 1f, "mouthClose", -1f) { UnlessMeshHas = "viseme_aa" });
            basic.Targets.Add(new MappingTarget("mouthSmile", "mouthSmileLeft", 0.5f, "mouthSmileRight", 0.5f));
            basic.Targets.Add(new MappingTarget("eyesClosed", "eyeBlinkLeft", 0.5f, "eyeBlinkRight", 0.5f) { UnlessMeshHas = "eyeBlinkLeft" });
            basic.Targets.Add(new MappingTarget("eyeBlinkLeft", "eyeBlinkLeft", 1f));
            basic.Targets.Add(new MappingTarget("eyeBlinkRight", "eyeBlinkRight", 1f));
            basic.Targets.Add(new MappingTarget("eyesLookUp", "eyeLookUpLeft", 0.5f, "eyeLookUpRight", 0.5f));
            basic.Targets.Add(new MappingTarget("eyesLookDown", "eyeLookDownLeft", 0.5f, "eyeLookDownRight", 0.5f));
            // Oculus visemes from the mouth channels: the open vowels from the jaw and lip shape,
            // the closures and the dental from the lips and tongue. Consonants whose shape is a
            // half-open jaw (DD, kk, nn, SS, CH, RR) are left to aa/E/I, which the jaw already drives.
            basic.Targets.Add(new MappingTarget("viseme_aa", "jawOpen", 1f, "mouthClose", -1f, "mouthFunnel", -0.5f, "mouthStretchLeft", -0.3f, "mouthStretchRight", -0.3f));
            basic.Targets.Add(new MappingTarget("viseme_E", "mouthStretchLeft", 0.7f, "mouthStretchRight", 0.7f, "jawOpen", 0.2f));
            basic.Targets.Add(new MappingTarget("viseme_I", "mouthSmileLeft", 0.5f, "mouthSmileRight", 0.5f, "mouthStretchLeft", 0.3f, "mouthStretchRight", 0.3f));
            basic.Targets.Add(new MappingTarget("viseme_O", "mouthFunnel", 1.2f));
            basic.Targets.Add(new MappingTarget("viseme_U", "mouthPucker", 1.1f));
            basic.Targets.Add(new MappingTarget("viseme_PP", "mouthPressLeft", 0.6f, "mouthPressRight", 0.6f, "mouthRollLower", 0.4f, "mouthRollUpper", 0.4f, "mouthClose", 0.5f));
            basic.Targets.Add(new MappingTarget("viseme_FF", "mouthRollLower", 0.9f, "mouthUpperUpLeft", 0.3f, "mouthUpperUpRight", 0.3f));
            basic.Targets.Add(new MappingTarget("viseme_TH", "tongueOut", 1.5f));
            m.Alternatives.Add(basic);
            return m;
        }

        /// <summary>VRM's five vowels, blinks and four moods, blended from ARKit channels. The
        /// names are VRM 0.x clips (A I U E O...) or VRM 1.0 expressions (aa ih ou ee oh...).</summary>
        static BlendshapeMapping Vrm(string[] n)
        {
            var m = new BlendshapeMapping();
            m.Targets.Add(new MappingTarget(n[0], "jawOpen", 1.1f, "mouthLowerDownLeft", 0.3f, "mouthLowerDownRight", 0.3f, "mouthClose", -1.1f));
            m.Targets.Add(new MappingTarget(n[1], "mouthStretchLeft", 0.9f, "mouthStretchRight", 0.9f, "mouthSmileLeft", 0.4f, "mouthSmileRight", 0.4f));
            m.Targets.Add(new MappingTarget(n[2], "mouthPucker", 1.0f, "mouthFunnel", 0.3f));
            m.Targets.Add(new MappingTarget(n[3], "mouthStretchLeft", 0.5f, "mouthStretchRight", 0.5f, "jawOpen", 0.5f, "mouthClose", -0.5f));
            m.Targets.Add(new MappingTarget(n[4], "mouthFunnel", 1.2f));
            m.Targets.Add(new MappingTarget(n[6], "eyeBlinkLeft", 1f));
            m.Targets.Add(new MappingTarget(n[7], "eyeBlinkRight", 1f));
            m.Targets.Add(new MappingTarget(n[8], "mouthSmileLeft", 0.6f, "mouthSmileRight", 0.6f, "cheekSquintLeft", 0.4f, "cheekSquintRight", 0.4f));
            m.Targets.Add(new MappingTarget(n[9], "mouthFrownLeft", 0.6f, "mouthFrownRight", 0.6f, "browInnerUp", 0.5f));
            m.Targets.Add(new MappingTarget(n[10], "browDownLeft", 0.6f, "browDownRight", 0.6f, "noseSneerLeft", 0.4f, "noseSneerRight", 0.4f));
            m.Targets.Add(new MappingTarget(n[11], "mouthSmileLeft", 0.3f, "mouthSmileRight", 0.3f));
            return m;
        }

        static readonly string[] Prefixes = { "arkit_", "arkit.", "blendshape_", "bs_" };

        /// <summary>"blendShape1.JawOpen", "ARKit_jawOpen", "jawopen" -> "jawopen";
        /// "eyeBlink_L", "EyeBlink.L", "eyeBlink_Left" -> "eyeblinkleft".</summary>
        public static string Normalize(string meshShape)
        {
            string s = meshShape ?? "";
            string side = "";
            // A side suffix first, so "eyeBlink.L" is not taken for a "namespace.name".
            int cut = s.Length - 1;
            if (cut > 1 && (s[cut - 1] == '_' || s[cut - 1] == '.' || s[cut - 1] == '-' || s[cut - 1] == ' ') && (s[cut] == 'L' || s[cut] == 'l' || s[cut] == 'R' || s[cut] == 'r'))
            {
                side = s[cut] == 'L' || s[cut] == 'l' ? "left" : "right";
                s = s.Substring(0, cut - 1);
            }
            int dot = s.LastIndexOf('.');
            if (dot >= 0) s = s.Substring(dot + 1);
            foreach (var prefix in Prefixes)
                if (s.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)) s = s.Substring(prefix.Length);
            return s.Replace("_", "").Replace("-", "").Replace(" ", "").ToLowerInvariant() + side;
        }
    }

    /// <summary>A mapping resolved against one mesh: which mesh shape index each target drives.</summary>
    public sealed class ResolvedMapping
    {
        readonly int[] _meshIndex;
        readonly List<MappingTarget> _targets;
        public readonly List<string> Missing = new List<string>();
        public readonly int MeshShapeCount;

        public ResolvedMapping(BlendshapeMapping mapping, IList<string> meshShapes)
        {
            MeshShapeCount = meshShapes.Count;
            var byName = new Dictionary<string, int>();
            for (int i = 0; i < meshShapes.Count; i++)
            {
                string key = BlendshapeMapping.Normalize(meshShapes[i]);
                if (!byName.ContainsKey(key)) byName[key] = i;
            }
            // The alternative that matches the most shapes (ties: the first).
            var chosen = mapping;
            int best = Matches(mapping, byName);
            foreach (var alternative in mapping.Alternatives)
            {
                int n = Matches(alternative, byName);
                if (n > best) { best = n; chosen = alternative; }
            }
            _targets = new List<MappingTarget>();
            var indices = new List<int>();
            foreach (var target in chosen.Targets)
            {
                int index;
                if (target.UnlessMeshHas != null && byName.ContainsKey(BlendshapeMapping.Normalize(target.UnlessMeshHas))) continue;
                if (byName.TryGetValue(BlendshapeMapping.Normalize(target.MeshShape), out index))
                {
                    _targets.Add(target);
                    indices.Add(index);
                }
                else if (target.UnlessMeshHas == null)
                {
                    Missing.Add(target.MeshShape);
                }
            }
            _meshIndex = indices.ToArray();
        }

        static int Matches(BlendshapeMapping mapping, Dictionary<string, int> byName)
        {
            int n = 0;
            foreach (var t in mapping.Targets) if (byName.ContainsKey(BlendshapeMapping.Normalize(t.MeshShape))) n++;
            return n;
        }

        public int Mapped { get { return _meshIndex.Length; } }

        /// <summary>The mesh shape index target `t` drives.</summary>
        public int MeshIndex(int t) { return _meshIndex[t]; }

        /// <summary>Target `t`'s value for one frame, 0..1 (before the mesh's own scale).</summary>
        public float Value(int t, float[] frame)
        {
            float sum = 0;
            var sources = _targets[t].Sources;
            for (int s = 0; s < sources.Count; s++) sum += frame[sources[s].Key] * sources[s].Value;
            return sum < 0 ? 0 : sum > 1 ? 1 : sum;
        }

        /// <summary>Mesh weights (0..scale) for one frame; shapes no target drives are left as they
        /// are. `scale` is the mesh's full weight: 100 for FBX imports, 1 for glTFast and Ready
        /// Player Me (BlendshapeLayer reads it from the mesh's own frame weights).</summary>
        public void Apply(float[] frame, float[] meshWeights, float scale)
        {
            for (int t = 0; t < _meshIndex.Length; t++) meshWeights[_meshIndex[t]] = Value(t, frame) * scale;
        }
    }
}
