// Drives the blendshapes of one face made of several meshes (head, teeth, tongue, lashes) from
// the client's current frame, through a mapping, on top of whatever else animates them
// (BlendshapeLayer: only mapped shapes are written, added to their base, in each shape's own range).
using System.Collections.Generic;
using Avbridge.Core.Mapping;
using UnityEngine;

namespace Avbridge.Unity
{
    [AddComponentMenu("avbridge/Avbridge Blendshape Driver")]
    public sealed class AvbridgeBlendshapeDriver : MonoBehaviour
    {
        public AvbridgeClient client;
        [Tooltip("Every mesh of the face that has blendshapes: head, teeth, tongue, eyelashes. Empty: all under this object.")]
        public SkinnedMeshRenderer[] faces = new SkinnedMeshRenderer[0];
        [Tooltip("Which names the meshes use. A mapping asset, when set, wins. Vrm0/Vrm1 are expressions: use Avbridge VRM Driver.")]
        public MappingPreset preset = MappingPreset.Arkit;
        public AvbridgeMappingAsset mappingAsset;
        [Range(0f, 2f)] public float intensity = 1f;
        [Tooltip("Additive: on top of the Animator/Timeline's weights. Override: avbridge's weights replace them on mapped shapes.")]
        public BlendMode mode = BlendMode.Additive;

        sealed class MeshTarget : IBlendshapeMesh
        {
            public SkinnedMeshRenderer Renderer;
            public BlendshapeLayer Layer;
            public float GetWeight(int shape) { return Renderer.GetBlendShapeWeight(shape); }
            public void SetWeight(int shape, float weight) { Renderer.SetBlendShapeWeight(shape, weight); }
        }

        readonly List<MeshTarget> _meshes = new List<MeshTarget>();

        /// <summary>Per mesh: its name, how many of its shapes are driven, and the mapped shapes it lacks.</summary>
        public IEnumerable<KeyValuePair<string, ResolvedMapping>> Matches
        {
            get { foreach (var m in _meshes) yield return new KeyValuePair<string, ResolvedMapping>(m.Renderer.name, m.Layer.Mapping); }
        }

        void Awake()
        {
            if (client == null) client = GetComponentInParent<AvbridgeClient>();
        }

        void OnEnable() { Remap(); }

        void OnDisable()
        {
            foreach (var m in _meshes) if (m.Renderer != null) m.Layer.Release(m);
        }

        /// <summary>Match the mapping against the meshes again (after changing either). Shapes the
        /// face lacks are reported once here, not every frame.</summary>
        public void Remap()
        {
            foreach (var m in _meshes) if (m.Renderer != null) m.Layer.Release(m);
            _meshes.Clear();
            if (BlendshapeMapping.IsExpressionPreset(preset) && mappingAsset == null)
                Debug.LogWarning("avbridge: the " + preset + " preset names VRM expressions, not mesh shapes: use Avbridge VRM Driver on a VRM model, or VRoid for its Fcl_ shapes", this);
            var renderers = faces != null && faces.Length > 0 ? faces : GetComponentsInChildren<SkinnedMeshRenderer>();
            var mapping = mappingAsset != null ? mappingAsset.ToMapping() : BlendshapeMapping.Preset(preset);
            var matchedAnywhere = new HashSet<string>();
            var missing = new List<string>();
            foreach (var renderer in renderers)
            {
                if (renderer == null || renderer.sharedMesh == null || renderer.sharedMesh.blendShapeCount == 0) continue;
                var mesh = renderer.sharedMesh;
                var names = new List<string>(mesh.blendShapeCount);
                var full = new float[mesh.blendShapeCount];
                for (int i = 0; i < mesh.blendShapeCount; i++)
                {
                    names.Add(mesh.GetBlendShapeName(i));
                    // The shape's full weight is its last frame's: 100 from FBX, 1 from glTFast/RPM.
                    int frames = mesh.GetBlendShapeFrameCount(i);
                    full[i] = frames > 0 ? mesh.GetBlendShapeFrameWeight(i, frames - 1) : 100f;
                }
                var resolved = new ResolvedMapping(mapping, names);
                if (resolved.Mapped == 0) continue;
                _meshes.Add(new MeshTarget { Renderer = renderer, Layer = new BlendshapeLayer(resolved, full) });
                foreach (var n in names) matchedAnywhere.Add(BlendshapeMapping.Normalize(n));
            }
            foreach (var target in mapping.Targets)
                if (!matchedAnywhere.Contains(BlendshapeMapping.Normalize(target.MeshShape))) missing.Add(target.MeshShape);
            if (_meshes.Count == 0)
                Debug.LogWarning("avbridge: no mesh under " + name + " has a shape the " + (mappingAsset != null ? mappingAsset.name : preset.ToString()) + " mapping drives", this);
            else if (missing.Count > 0 && mapping.Alternatives.Count == 0)
                Debug.LogWarning("avbridge: " + name + " has no blendshape for " + missing.Count + " mapped shapes: " + string.Join(", ", missing.ToArray()), this);
        }

        void LateUpdate()
        {
            if (client == null) return;
            var frame = client.CurrentFrame;
            for (int i = 0; i < _meshes.Count; i++) _meshes[i].Layer.Apply(frame, intensity, mode, _meshes[i]);
        }
    }
}
