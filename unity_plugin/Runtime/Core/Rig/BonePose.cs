// One bone turned by avbridge on top of whatever else poses it, without drifting.
//
// Writing `localRotation = localRotation * q` every frame only works while an Animator rewrites
// that bone every frame; with no Animator, a Generic rig that does not animate the head, a culled
// Animator or unmapped humanoid eyes, the rotation accumulates and the head spins away. So each
// frame the bone's base pose is chosen: if the bone still holds what we wrote last frame, nobody
// else posed it and the base is the one we kept; otherwise someone (the Animator, Timeline, a
// script) wrote it this frame and that pose is the new base.
//
// The offset is given in the character's axes (Unity's: x to its right, y up, z forward), not in
// the bone's own: rigs mirror the left eye's bone, and Ready Player Me's eye bones carry 90 and 180
// degree rest rotations, so "yaw about the bone's y" looks different ways on each. With P the
// parent's rotation relative to the frame the offset is expressed in, the new local rotation is
//     local = P^-1 * offset * P * base
// which turns the bone's world orientation by `offset` about that frame's axes.
namespace Avbridge.Core.Rig
{
    public sealed class BonePose
    {
        Quat _base = Quat.Identity;
        Quat _written;
        bool _holdsOurs;

        /// <summary>The pose before our offset, as last seen.</summary>
        public Quat Base { get { return _base; } }

        /// <summary>The local rotation to write this frame. `currentLocal`: the bone's local
        /// rotation now (after the Animator ran, if it did); `parentInFrame`: the parent's world
        /// rotation relative to the offset's frame; `offset`: the rotation to add, in that frame.</summary>
        public Quat Apply(Quat currentLocal, Quat parentInFrame, Quat offset)
        {
            if (!_holdsOurs || !Quat.Same(currentLocal, _written)) _base = currentLocal;
            _written = (parentInFrame.Inverse() * offset * parentInFrame * _base).Normalized();
            _holdsOurs = true;
            return _written;
        }

        /// <summary>Stop driving the bone: returns the rotation to put back (the base if the bone
        /// still holds ours, else what is there now) and forgets the base.</summary>
        public Quat Release(Quat currentLocal)
        {
            bool ours = _holdsOurs && Quat.Same(currentLocal, _written);
            _holdsOurs = false;
            return ours ? _base : currentLocal;
        }
    }
}
