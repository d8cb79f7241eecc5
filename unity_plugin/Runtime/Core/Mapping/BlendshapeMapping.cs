// From the 52 ARKit weights in a frame to a mesh's own blendshapes.
//
// A mapping is a list of targets: a mesh blendshape name and the ARKit channels that drive it, each
// with a weight (mesh weight = clamp(sum of weight x channel, 0, 1)). An ARKit-named rig maps one to
// one; a VRM or viseme rig blends several channels into each of its few shapes. Mesh names are
// matched without regard to case and to prefixes such as "blendShape1." or "ARKit_".
using System;
using System.Collections.Generic;

namespace Avbridge.Core.Mapping
{
    public sealed class MappingTarget
    {
        public string MeshShape;
        public readonly List<KeyValuePair<int, float>> Sources = new List<KeyValuePair<int, float>>();

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

    public enum MappingPreset { Arkit, Vrm0, Vrm1, ReadyPlayerMe }

    public sealed class BlendshapeMapping
    {
        public readonly List<MappingTarget> Targets = new List<MappingTarget>();

        public static BlendshapeMapping Preset(MappingPreset preset)
        {
            switch (preset)
            {
                case MappingPreset.Arkit: return Arkit();
                case MappingPreset.ReadyPlayerMe: return ReadyPlayerMe();
                case MappingPreset.Vrm0: return Vrm(new[] { "A", "I", "U", "E", "O", "Blink", "Blink_L", "Blink_R", "Joy", "Sorrow", "Angry", "Fun" });
                default: return Vrm(new[] { "aa", "ih", "ou", "ee", "oh", "blink", "blinkLeft", "blinkRight", "happy", "sad", "angry", "relaxed" });
            }
        }

        /// <summary>One mesh shape per ARKit channel, named as in ARKit.</summary>
        public static BlendshapeMapping Arkit()
        {
            var m = new BlendshapeMapping();
            foreach (var name in ArkitNames.All) m.Targets.Add(new MappingTarget(name, name, 1f));
            return m;
        }

        /// <summary>Ready Player Me avatars carry the 52 ARKit shapes under their ARKit names
        /// (plus Oculus visemes, which the ARKit channels already cover).</summary>
        public static BlendshapeMapping ReadyPlayerMe() { return Arkit(); }

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

        /// <summary>"blendShape1.JawOpen", "ARKit_jawOpen", "jawopen" -> "jawopen".</summary>
        public static string Normalize(string meshShape)
        {
            string s = meshShape;
            int dot = s.LastIndexOf('.');
            if (dot >= 0) s = s.Substring(dot + 1);
            foreach (var prefix in new[] { "arkit_", "arkit.", "blendshape_", "bs_" })
                if (s.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)) s = s.Substring(prefix.Length);
            return s.Replace("_", "").ToLowerInvariant();
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
            _targets = new List<MappingTarget>();
            var indices = new List<int>();
            foreach (var target in mapping.Targets)
            {
                int index;
                if (byName.TryGetValue(BlendshapeMapping.Normalize(target.MeshShape), out index))
                {
                    _targets.Add(target);
                    indices.Add(index);
                }
                else
                {
                    Missing.Add(target.MeshShape);
                }
            }
            _meshIndex = indices.ToArray();
        }

        public int Mapped { get { return _meshIndex.Length; } }

        /// <summary>Mesh weights (0..scale, Unity uses 0..100) for one frame; shapes no target
        /// drives are left as they are.</summary>
        public void Apply(float[] frame, float[] meshWeights, float scale = 100f)
        {
            for (int t = 0; t < _meshIndex.Length; t++)
            {
                float sum = 0;
                var sources = _targets[t].Sources;
                for (int s = 0; s < sources.Count; s++) sum += frame[sources[s].Key] * sources[s].Value;
                meshWeights[_meshIndex[t]] = (sum < 0 ? 0 : sum > 1 ? 1 : sum) * scale;
            }
        }
    }
}
