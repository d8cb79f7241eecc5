"""VMC protocol (OSC over UDP) performer messages: how a face and head reach VSeeFace, Warudo,
VNyan, VMagicMirror and VMC-capable Unity apps (their receiver listens on 39539 by default).

One OSC bundle a frame, as VMC performers send them:
    /VMC/Ext/OK         i loaded (1), i calibration state (3: done), i calibration mode (0), i tracking (1)
    /VMC/Ext/T          f the frame's time (seconds on the session's timeline)
    /VMC/Ext/Root/Pos   s "root", f px py pz, f qx qy qz qw          (identity: the avatar stays put)
    /VMC/Ext/Bone/Pos   s "Neck" / "Head" / "LeftEye" / "RightEye", f px py pz, f qx qy qz qw
    /VMC/Ext/Blend/Val  s name, f weight                             (one per blendshape clip)
    /VMC/Ext/Blend/Apply                                             (after the last value)

Bones carry local rotations in Unity's left-handed frame (x right, y up, z forward): our frame
(SPEC 8.3: x to the avatar's left) mirrors into it by negating the quaternion's y and z. The head's
rotation is shared between Neck (40 %) and Head (the rest), so the two compose to it. Bone positions
are sent as zero: receivers apply the rotations of bones other than the hips and root (what
VSeeFace and Warudo document); head translation is not sent.

Blendshape names, for the model at the other end (`names`):
  vrm0   A I U E O, Blink Blink_L Blink_R, Joy Angry Sorrow Surprised (VRM 0.x presets; Surprised
         is not a 0.x preset, so it goes only to models that define it)
  vrm1   aa ih ou ee oh, blink blinkLeft blinkRight, happy angry sad surprised (VRM 1.0 expressions)
  arkit  the 52 ARKit names in UpperCamel (EyeBlinkLeft, JawOpen, ...): "perfect sync" models,
         whose clips carry ARKit's names
The five vowels are the mouth's least-squares blend of the vowel poses (motion/visemes.py), so the
same motion that drives an ARKit rig opens a VRM's A and rounds its O. Blink is what both eyes
share and Blink_L / Blink_R the rest, so a model that has all three does not blink twice as far.
Emotions come from the ARKit shapes that carry them (smile: joy; brows down: angry; inner brows
up with a frown: sorrow; brows up with wide eyes: surprised), at half weight, because a VRM's
expression clips move the whole face.
"""

from __future__ import annotations

import numpy as np
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from scipy.optimize import nnls
from scipy.spatial.transform import Rotation

from avbridge.core.arkit import ARKIT_BLENDSHAPES, INDEX, upper_camel
from avbridge.motion.visemes import MOUTH_CHANNELS, VISEME_INDEX, VISEME_POSES

DEFAULT_PORT = 39539
NAME_SETS = ("vrm0", "vrm1", "arkit")
NECK_SHARE = 0.4
EMOTION_WEIGHT = 0.5
_VOWELS = ("aa", "I", "U", "E", "O")
_VOWEL_NAMES = {"vrm0": ("A", "I", "U", "E", "O"), "vrm1": ("aa", "ih", "ou", "ee", "oh")}
_BLINK_NAMES = {"vrm0": ("Blink", "Blink_L", "Blink_R"), "vrm1": ("blink", "blinkLeft", "blinkRight")}
_EMOTION_NAMES = {"vrm0": ("Joy", "Angry", "Sorrow", "Surprised"), "vrm1": ("happy", "angry", "sad", "surprised")}
_SIL = VISEME_POSES[VISEME_INDEX["sil"]][MOUTH_CHANNELS]
_VOWEL_BASIS = np.stack([VISEME_POSES[VISEME_INDEX[v]][MOUTH_CHANNELS] - _SIL for v in _VOWELS], axis=1)


def _mean(b: np.ndarray, *names: str) -> float:
    return float(np.mean([b[INDEX[n]] for n in names]))


def vowel_weights(blendshapes: np.ndarray) -> np.ndarray:
    """(52,) ARKit weights -> (5,) A, I, U, E, O in [0, 1]: the non-negative blend of the vowel
    poses nearest the mouth (a mouth at the "aa" pose gives A = 1)."""
    weights, _ = nnls(_VOWEL_BASIS, np.asarray(blendshapes, np.float64)[MOUTH_CHANNELS] - _SIL)
    return np.clip(weights, 0.0, 1.0)


def blend_values(blendshapes: np.ndarray, names: str) -> list[tuple[str, float]]:
    """The (clip name, weight) pairs of one frame for a model of the `names` set."""
    b = np.clip(np.asarray(blendshapes, np.float64).reshape(52), 0.0, 1.0)
    if names == "arkit":
        return [(upper_camel(n), float(b[i])) for i, n in enumerate(ARKIT_BLENDSHAPES)]
    if names not in _VOWEL_NAMES:
        raise ValueError(f"unknown VMC name set {names!r}; expected one of {', '.join(NAME_SETS)}")
    left, right = b[INDEX["eyeBlinkLeft"]], b[INDEX["eyeBlinkRight"]]
    both = min(left, right)
    emotions = (_mean(b, "mouthSmileLeft", "mouthSmileRight"),
                _mean(b, "browDownLeft", "browDownRight"),
                min(b[INDEX["browInnerUp"]], _mean(b, "mouthFrownLeft", "mouthFrownRight") * 2),
                min(_mean(b, "browOuterUpLeft", "browOuterUpRight"), _mean(b, "eyeWideLeft", "eyeWideRight") * 2))
    out = list(zip(_VOWEL_NAMES[names], (float(w) for w in vowel_weights(b))))
    out += list(zip(_BLINK_NAMES[names], (float(both), float(left - both), float(right - both))))
    out += [(name, float(np.clip(value * EMOTION_WEIGHT, 0, 1))) for name, value in zip(_EMOTION_NAMES[names], emotions)]
    return out


def to_unity(quaternion: np.ndarray) -> np.ndarray:
    """(4,) x, y, z, w in our right-handed frame -> Unity's left-handed one (SPEC 8.3)."""
    x, y, z, w = (float(v) for v in quaternion)
    return np.array([x, -y, -z, w])


def head_bones(head: np.ndarray, gaze: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(7,) head pose and (4,) gaze -> (bone name, Unity quaternion) for Neck, Head and the eyes."""
    q = Rotation.from_quat(np.asarray(head, np.float64)[:4])
    neck = Rotation.from_rotvec(q.as_rotvec() * NECK_SHARE)
    rest = neck.inv() * q
    bones = [("Neck", to_unity(neck.as_quat())), ("Head", to_unity(rest.as_quat()))]
    for name, (yaw, pitch) in (("LeftEye", gaze[:2]), ("RightEye", gaze[2:4])):
        eye = Rotation.from_euler("YX", [float(yaw), float(pitch)])
        bones.append((name, to_unity(eye.as_quat())))
    return bones


def _message(address: str, *args) -> OscMessageBuilder:
    builder = OscMessageBuilder(address=address)
    for a in args:
        builder.add_arg(a, OscMessageBuilder.ARG_TYPE_STRING if isinstance(a, str)
                        else OscMessageBuilder.ARG_TYPE_INT if isinstance(a, int)
                        else OscMessageBuilder.ARG_TYPE_FLOAT)
    return builder


def frame_bundle(row: np.ndarray, time_s: float, names: str) -> bytes:
    """One frame (63 values, SPEC 8.3 layout) -> the bytes of one OSC bundle."""
    row = np.asarray(row, np.float64).reshape(63)
    bundle = OscBundleBuilder(IMMEDIATELY)
    bundle.add_content(_message("/VMC/Ext/OK", 1, 3, 0, 1).build())
    bundle.add_content(_message("/VMC/Ext/T", float(time_s)).build())
    bundle.add_content(_message("/VMC/Ext/Root/Pos", "root", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0).build())
    for bone, q in head_bones(row[52:59], row[59:63]):
        bundle.add_content(_message("/VMC/Ext/Bone/Pos", bone, 0.0, 0.0, 0.0, *(float(v) for v in q)).build())
    for name, value in blend_values(row[:52], names):
        bundle.add_content(_message("/VMC/Ext/Blend/Val", name, value).build())
    bundle.add_content(OscMessageBuilder(address="/VMC/Ext/Blend/Apply").build())
    return bundle.build().dgram
