"""VMC protocol (OSC over UDP) performer messages: how a face and head reach VSeeFace, Warudo,
VNyan, VMagicMirror and VMC-capable Unity apps (their receiver listens on 39539 by default).

One OSC bundle a frame (time tag "immediately"), as VMC performers send them:
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

import math
from functools import lru_cache
import struct

import numpy as np

from scipy.optimize import nnls

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
    return sum(float(b[INDEX[n]]) for n in names) / len(names)      # np.mean costs 30 us a call


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


def _multiply(a: tuple, b: tuple) -> tuple:
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return (aw * bx + ax * bw + ay * bz - az * by, aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw, aw * bw - ax * bx - ay * by - az * bz)


def _axis_angle(x: float, y: float, z: float, angle: float) -> tuple:
    half = 0.5 * angle
    return (x * math.sin(half), y * math.sin(half), z * math.sin(half), math.cos(half))


def head_bones(head: np.ndarray, gaze: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(7,) head pose and (4,) gaze -> (bone name, Unity quaternion) for Neck, Head and the eyes.

    Quaternion algebra in plain floats: scipy's Rotation objects cost 0.3 ms a frame here, as much
    as all the rest of a bundle."""
    x, y, z, w = (float(v) for v in head[:4])
    if w < 0:
        x, y, z, w = -x, -y, -z, -w
    sin_half = math.sqrt(x * x + y * y + z * z)
    angle = 2.0 * math.atan2(sin_half, w)
    axis = (x / sin_half, y / sin_half, z / sin_half) if sin_half > 1e-12 else (0.0, 0.0, 1.0)
    neck = _axis_angle(*axis, angle * NECK_SHARE)
    rest = _multiply((-neck[0], -neck[1], -neck[2], neck[3]), (x, y, z, w))
    bones = [("Neck", to_unity(np.array(neck))), ("Head", to_unity(np.array(rest)))]
    for name, (yaw, pitch) in (("LeftEye", gaze[:2]), ("RightEye", gaze[2:4])):
        eye = _multiply(_axis_angle(0.0, 1.0, 0.0, float(yaw)), _axis_angle(1.0, 0.0, 0.0, float(pitch)))
        bones.append((name, to_unity(np.array(eye))))
    return bones


# OSC 1.0 by hand, not through python-osc's builders: they took 1.2 ms a frame for the VRM names
# and 2.4 ms for the 52 ARKit ones (2-core machine), 58 % of a core for eight avatars at 60 fps,
# which made the sender late (docs/benchmarks.md "Outputs"). The encoding is four rules (strings
# NUL-terminated and padded to 4 bytes, a type-tag string, big-endian int32 / float32, bundles of
# size-prefixed elements); the tests read it back with python-osc's own server.
_BUNDLE_HEAD = b"#bundle\0" + struct.pack(">Q", 1)       # time tag 1: "immediately"


def _osc_string(text: str) -> bytes:
    raw = text.encode("utf-8") + b"\0"
    return raw + b"\0" * (-len(raw) % 4)


def osc_message(address: str, *args: str | int | float) -> bytes:
    tags, body = [","], []
    for a in args:
        if isinstance(a, str):
            tags.append("s")
            body.append(_osc_string(a))
        elif isinstance(a, (int, np.integer)) and not isinstance(a, bool):
            tags.append("i")
            body.append(struct.pack(">i", int(a)))
        else:
            tags.append("f")
            body.append(struct.pack(">f", float(a)))
    return _osc_string(address) + _osc_string("".join(tags)) + b"".join(body)


def osc_bundle(messages: list[bytes]) -> bytes:
    return _BUNDLE_HEAD + b"".join(struct.pack(">i", len(m)) + m for m in messages)


@lru_cache(maxsize=512)
def _prefix(address: str, name: str, floats: int) -> bytes:
    """The fixed start of a message that has one name and `floats` floats: all of it but the numbers."""
    return _osc_string(address) + _osc_string("," + "s" * bool(name) + "f" * floats) + (_osc_string(name) if name else b"")


def _named_floats(address: str, name: str, *values: float) -> bytes:
    return _prefix(address, name, len(values)) + struct.pack(f">{len(values)}f", *values)


_STATIC = [osc_message("/VMC/Ext/OK", 1, 3, 0, 1)]
_ROOT = osc_message("/VMC/Ext/Root/Pos", "root", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)
_APPLY = osc_message("/VMC/Ext/Blend/Apply")


def frame_bundle(row: np.ndarray, time_s: float, names: str) -> bytes:
    """One frame (63 values, SPEC 8.3 layout) -> the bytes of one OSC bundle. The messages whose
    words never change are encoded once (the same bytes osc_message gives)."""
    row = np.asarray(row, np.float64).reshape(63)
    messages = [*_STATIC, _named_floats("/VMC/Ext/T", "", float(time_s)), _ROOT]
    for bone, q in head_bones(row[52:59], row[59:63]):
        messages.append(_named_floats("/VMC/Ext/Bone/Pos", bone, 0.0, 0.0, 0.0, *(float(v) for v in q)))
    messages += [_named_floats("/VMC/Ext/Blend/Val", name, value) for name, value in blend_values(row[:52], names)]
    messages.append(_APPLY)
    return osc_bundle(messages)
