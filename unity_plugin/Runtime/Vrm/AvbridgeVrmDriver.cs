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
                _keys10 = Keys<UniVRM10.ExpressionPreset, UniVRM10.ExpressionKey>(MappingPreset.Vrm1,
                    UniVRM10.ExpressionKey.CreateFromPreset, UniVRM10.ExpressionKey.CreateCustom);
                return;
            }
#endif
#if AVBRIDGE_UNIVRM0
            _proxy = GetComponentInChildren<VRM.VRMBlendShapeProxy>();
            if (_proxy != null)
            {
                _keys0 = Keys<VRM.BlendShapePreset, VRM.BlendShapeKey>(MappingPreset.Vrm0,
                    VRM.BlendShapeKey.CreateFromPreset, VRM.BlendShapeKey.CreateUnknown);
                return;
            }
#endif
            Debug.LogWarning("avbridge: no VRM model (Vrm10Instance or VRMBlendShapeProxy) under " + name, this);
        }

        /// <summary>Resolve `preset`'s targets and make UniVRM's key for each: a preset
        /// expression where the name is one (A, aa, Blink_L...), else a custom one by name.</summary>
        TKey[] Keys<TPreset, TKey>(MappingPreset preset, Func<TPreset, TKey> fromPreset, Func<string, TKey> custom)
            where TPreset : struct
        {
            Resolve(BlendshapeMapping.Preset(preset));
            var keys = new TKey[_mapping.Mapped];
            for (int t = 0; t < _mapping.Mapped; t++)
            {
                TPreset known;
                string n = _names[_mapping.MeshIndex(t)];
                keys[t] = Enum.TryParse(n, out known) ? fromPreset(known) : custom(n);
            }
            return keys;
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
