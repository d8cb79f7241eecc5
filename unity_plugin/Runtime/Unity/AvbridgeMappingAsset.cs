// A blendshape mapping as an asset: a preset, or your own targets (mesh shape <- ARKit channels).
using System;
using System.Collections.Generic;
using Avbridge.Core.Mapping;
using UnityEngine;

namespace Avbridge.Unity
{
    [CreateAssetMenu(menuName = "avbridge/Blendshape Mapping", fileName = "BlendshapeMapping")]
    public sealed class AvbridgeMappingAsset : ScriptableObject
    {
        [Serializable]
        public sealed class Source
        {
            public string arkit = "jawOpen";
            public float weight = 1f;
        }

        [Serializable]
        public sealed class Target
        {
            public string meshShape = "";
            public List<Source> sources = new List<Source>();
        }

        [Tooltip("Start from a preset; targets below are added to it (or replace it, with usePresetOnly off and no preset).")]
        public MappingPreset preset = MappingPreset.Arkit;
        public bool includePreset = true;
        public List<Target> targets = new List<Target>();

        public BlendshapeMapping ToMapping()
        {
            var mapping = includePreset ? BlendshapeMapping.Preset(preset) : new BlendshapeMapping();
            foreach (var t in targets)
            {
                var pairs = new List<object>();
                foreach (var s in t.sources) { pairs.Add(s.arkit); pairs.Add(s.weight); }
                mapping.Targets.RemoveAll(existing => BlendshapeMapping.Normalize(existing.MeshShape) == BlendshapeMapping.Normalize(t.meshShape));
                mapping.Targets.Add(new MappingTarget(t.meshShape, pairs.ToArray()));
            }
            return mapping;
        }
    }
}
