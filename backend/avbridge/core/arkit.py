"""The ARKit-52 blendshape names and the Live Link Face column order.

avbridge's canonical order is Apple's ARFaceAnchor.BlendShapeLocation order with Apple's
lowerCamel names. Live Link Face writes the same 52 shapes in UpperCamel with two pairs swapped
(JawRight before JawLeft, MouthRight before MouthLeft); `LIVE_LINK_FACE_ORDER` maps between them.
"""

from __future__ import annotations

ARKIT_BLENDSHAPES: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft",
    "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "eyeSquintRight", "eyeWideRight",
    "jawForward", "jawLeft", "jawRight", "jawOpen",
    "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight",
    "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthUpperUpLeft", "mouthUpperUpRight",
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
    "noseSneerLeft", "noseSneerRight",
    "tongueOut",
)
assert len(ARKIT_BLENDSHAPES) == 52

INDEX: dict[str, int] = {name: i for i, name in enumerate(ARKIT_BLENDSHAPES)}


def _live_link_face_order() -> tuple[str, ...]:
    swapped = {"jawLeft": "jawRight", "jawRight": "jawLeft",
               "mouthLeft": "mouthRight", "mouthRight": "mouthLeft"}
    return tuple(swapped.get(name, name) for name in ARKIT_BLENDSHAPES)


LIVE_LINK_FACE_ORDER: tuple[str, ...] = _live_link_face_order()
"""Canonical names in the order Live Link Face writes its 52 blendshape columns."""

LIVE_LINK_FACE_EXTRA_COLUMNS: tuple[str, ...] = (
    "HeadYaw", "HeadPitch", "HeadRoll",
    "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
    "RightEyeYaw", "RightEyePitch", "RightEyeRoll",
)


def upper_camel(name: str) -> str:
    """'eyeBlinkLeft' -> 'EyeBlinkLeft', the spelling Live Link Face uses."""
    return name[:1].upper() + name[1:]


def indices(*names: str) -> list[int]:
    return [INDEX[n] for n in names]
