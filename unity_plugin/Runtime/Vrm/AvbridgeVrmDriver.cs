// VRM models take facial motion through expressions (VRM 0.x BlendShapeClips, VRM 1.0 Expressions),
// not through mesh shape names: a VRoid model's meshes are named Fcl_MTH_A..., and the clips bind
// them, with the model author's weights, to A/I/U/E/O, Blink_L, Joy... So the Vrm0/Vrm1 presets
// are evaluated here and handed to UniVRM's own API, which also keeps our weights from fighting its
// other users (lip sync, blink, look-at) the way writing mesh shapes directly would.
//
// Compiled only where UniVRM is installed: the asmdef defines AVBRIDGE_UNIVRM0 when com.vrmc.univrm
// (VRM 0.x) is present and AVBRIDGE_VRM10 when com.vrmc.vrm (VRM 1.0) is; without either, this
// assembly is skipped (defineConstraints) and nothing references UniVRM.
#if AVBRIDGE_UNIVRM0 || AVBRIDGE_VRM10
using System;
using System.Collections.Generic;
using Avbridge.Core.Mapping;
using UnityEngine;

namespace Avbridge.Unity.Vrm
{
    [AddComponentMenu("avbridge/Avbridge VRM Driver")]
    public sealed class AvbridgeVrmDriver : MonoBehaviour
    {
        public AvbridgeClient client;
        [Range(0f, 2f)] public float intensity = 1f;

        ResolvedMapping _mapping;
        readonly List<string> _names = new List<string>();
#if AVBRIDGE_VRM10
        UniVRM10.Vrm10Instance _vrm10;
        UniVRM10.ExpressionKey[] _keys10;
#endif
#if AVBRIDGE_UNIVRM0
        VRM.VRMBlendShapeProxy _proxy;
        VRM.BlendShapeKey[] _keys0;
#endif

        void Awake()
        {
            if (client == null) client = GetComponentInParent<AvbridgeClient>();
        }

        void Start()
        {
#if AVBRIDGE_VRM10
            _vrm10 = GetComponentInChildren<UniVRM10.Vrm10Instance>();
            if (_vrm10 != null)
            {
                Resolve(BlendshapeMapping.Preset(MappingPreset.Vrm1));
                _keys10 = new UniVRM10.ExpressionKey[_mapping.Mapped];
                for (int t = 0; t < _mapping.Mapped; t++)
                {
                    UniVRM10.ExpressionPreset preset;
                    string n = _names[_mapping.MeshIndex(t)];
                    _keys10[t] = Enum.TryParse(n, out preset) ? UniVRM10.ExpressionKey.CreateFromPreset(preset) : UniVRM10.ExpressionKey.CreateCustom(n);
                }
                return;
            }
#endif
#if AVBRIDGE_UNIVRM0
            _proxy = GetComponentInChildren<VRM.VRMBlendShapeProxy>();
            if (_proxy != null)
            {
                Resolve(BlendshapeMapping.Preset(MappingPreset.Vrm0));
                _keys0 = new VRM.BlendShapeKey[_mapping.Mapped];
                for (int t = 0; t < _mapping.Mapped; t++)
                {
                    VRM.BlendShapePreset preset;
                    string n = _names[_mapping.MeshIndex(t)];
                    _keys0[t] = Enum.TryParse(n, out preset) ? VRM.BlendShapeKey.CreateFromPreset(preset) : VRM.BlendShapeKey.CreateUnknown(n);
                }
                return;
            }
#endif
            Debug.LogWarning("avbridge: no VRM model (Vrm10Instance or VRMBlendShapeProxy) under " + name, this);
        }

        void Resolve(BlendshapeMapping mapping)
        {
            _names.Clear();
            foreach (var target in mapping.Targets) _names.Add(target.MeshShape);
            _mapping = new ResolvedMapping(mapping, _names);
        }

        void LateUpdate()
        {
            if (client == null || _mapping == null) return;
            var frame = client.CurrentFrame;
#if AVBRIDGE_VRM10
            if (_vrm10 != null && _vrm10.Runtime != null)
            {
                for (int t = 0; t < _mapping.Mapped; t++) _vrm10.Runtime.Expression.SetWeight(_keys10[t], Mathf.Clamp01(_mapping.Value(t, frame) * intensity));
                return;
            }
#endif
#if AVBRIDGE_UNIVRM0
            if (_proxy != null)
            {
                for (int t = 0; t < _mapping.Mapped; t++) _proxy.AccumulateValue(_keys0[t], Mathf.Clamp01(_mapping.Value(t, frame) * intensity));
                _proxy.Apply();
            }
#endif
        }
    }
}
#endif
