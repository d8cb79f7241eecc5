// Drives a SkinnedMeshRenderer's blendshapes from the client's current frame, through a mapping.
using System.Collections.Generic;
using Avbridge.Core.Mapping;
using UnityEngine;

namespace Avbridge.Unity
{
    [AddComponentMenu("avbridge/Avbridge Blendshape Driver")]
    public sealed class AvbridgeBlendshapeDriver : MonoBehaviour
    {
        public AvbridgeClient client;
        public SkinnedMeshRenderer face;
        [Tooltip("Which names the mesh uses. A mapping asset, when set, wins.")]
        public MappingPreset preset = MappingPreset.Arkit;
        public AvbridgeMappingAsset mappingAsset;
        [Range(0f, 2f)] public float intensity = 1f;

        ResolvedMapping _resolved;
        float[] _weights;
        readonly float[] _scaled = new float[63];

        public ResolvedMapping Resolved { get { return _resolved; } }

        void Start()
        {
            if (client == null) client = GetComponentInParent<AvbridgeClient>();
            if (face == null) face = GetComponentInChildren<SkinnedMeshRenderer>();
            Remap();
        }

        /// <summary>Match the mapping against the mesh again (after changing either). Shapes the
        /// mesh lacks are reported once here, not every frame.</summary>
        public void Remap()
        {
            if (face == null || face.sharedMesh == null) { Debug.LogWarning("avbridge: no SkinnedMeshRenderer with a mesh", this); return; }
            var mesh = face.sharedMesh;
            var names = new List<string>(mesh.blendShapeCount);
            for (int i = 0; i < mesh.blendShapeCount; i++) names.Add(mesh.GetBlendShapeName(i));
            var mapping = mappingAsset != null ? mappingAsset.ToMapping() : BlendshapeMapping.Preset(preset);
            _resolved = new ResolvedMapping(mapping, names);
            _weights = new float[names.Count];
            for (int i = 0; i < names.Count; i++) _weights[i] = face.GetBlendShapeWeight(i);
            if (_resolved.Missing.Count > 0)
                Debug.LogWarning("avbridge: " + face.name + " has no blendshape for " + _resolved.Missing.Count + " mapped shapes: "
                                 + string.Join(", ", _resolved.Missing.ToArray()), this);
        }

        void LateUpdate()
        {
            if (_resolved == null || client == null) return;
            var frame = client.CurrentFrame;
            for (int i = 0; i < 52; i++) _scaled[i] = frame[i] * intensity;
            _resolved.Apply(_scaled, _weights);
            for (int i = 0; i < _weights.Length; i++) face.SetBlendShapeWeight(i, _weights[i]);
        }
    }
}
