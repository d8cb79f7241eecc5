// avbridge's blendshape weights laid over whatever else drives a mesh.
//
// Writing every shape every frame reset what the Animator, Timeline or another script drove, and
// forced mapped shapes to neutral while nothing was said. So only mapped shapes are written, and
// each on top of its base: if a shape still holds what we wrote last frame, nobody else touched it
// and its base is the one we kept; otherwise someone wrote it this frame and that value is the new
// base. The result is base + ours (Additive) or ours alone (Override), clamped to the shape's range.
//
// The range is the shape's own full weight, read from its last frame (Mesh.GetBlendShapeFrameWeight):
// 100 for FBX imports, 1 for glTFast and Ready Player Me meshes, where a fixed 0..100 once gave up to
// 100 times the deformation.
namespace Avbridge.Core.Mapping
{
    public enum BlendMode { Additive, Override }

    /// <summary>A mesh's blendshape weights, as the engine holds them.</summary>
    public interface IBlendshapeMesh
    {
        float GetWeight(int shape);
        void SetWeight(int shape, float weight);
    }

    public sealed class BlendshapeLayer
    {
        public readonly ResolvedMapping Mapping;
        readonly float[] _fullWeight;     // per target
        readonly float[] _base, _written;
        readonly bool[] _holdsOurs;

        /// <summary>`fullWeightPerShape[i]`: mesh shape i's weight at full deformation (its last
        /// frame's weight); null means 100 for every shape.</summary>
        public BlendshapeLayer(ResolvedMapping mapping, float[] fullWeightPerShape)
        {
            Mapping = mapping;
            int n = mapping.Mapped;
            _fullWeight = new float[n];
            _base = new float[n];
            _written = new float[n];
            _holdsOurs = new bool[n];
            for (int t = 0; t < n; t++)
            {
                float full = fullWeightPerShape != null ? fullWeightPerShape[mapping.MeshIndex(t)] : 100f;
                _fullWeight[t] = full > 0 ? full : 100f;
            }
        }

        public float FullWeight(int target) { return _fullWeight[target]; }

        public void Apply(float[] frame, float intensity, BlendMode mode, IBlendshapeMesh mesh)
        {
            for (int t = 0; t < _fullWeight.Length; t++)
            {
                int shape = Mapping.MeshIndex(t);
                float current = mesh.GetWeight(shape);
                if (!_holdsOurs[t] || !Same(current, _written[t], _fullWeight[t])) _base[t] = current;
                float ours = Mapping.Value(t, frame) * intensity * _fullWeight[t];
                float value = mode == BlendMode.Additive ? _base[t] + ours : ours;
                value = value < 0 ? 0 : value > _fullWeight[t] ? _fullWeight[t] : value;
                if (!Same(current, value, _fullWeight[t])) mesh.SetWeight(shape, value);
                _written[t] = value;
                _holdsOurs[t] = true;
            }
        }

        /// <summary>Stop driving the mesh: shapes that still hold our values get their base back.</summary>
        public void Release(IBlendshapeMesh mesh)
        {
            for (int t = 0; t < _fullWeight.Length; t++)
            {
                int shape = Mapping.MeshIndex(t);
                if (_holdsOurs[t] && Same(mesh.GetWeight(shape), _written[t], _fullWeight[t])) mesh.SetWeight(shape, _base[t]);
                _holdsOurs[t] = false;
            }
        }

        static bool Same(float a, float b, float full) { float d = a - b; return (d < 0 ? -d : d) <= full * 1e-5f; }
    }
}
