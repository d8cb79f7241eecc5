"""Emotion poses: a facial expression added on top of speech, scaled by intensity.

The poses follow the FACS descriptions of the basic expressions (e.g. happiness: cheek raiser +
lip corner puller; sadness: inner brow raiser + lip corner depressor), mapped onto ARKit channels.
"""

from __future__ import annotations

import numpy as np

from avbridge.core.arkit import INDEX

_POSES: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": {"mouthSmileLeft": 0.45, "mouthSmileRight": 0.45, "cheekSquintLeft": 0.25,
              "cheekSquintRight": 0.25, "eyeSquintLeft": 0.15, "eyeSquintRight": 0.15},
    "sad": {"browInnerUp": 0.45, "mouthFrownLeft": 0.35, "mouthFrownRight": 0.35,
            "mouthShrugLower": 0.15, "eyeSquintLeft": 0.1, "eyeSquintRight": 0.1},
    "angry": {"browDownLeft": 0.55, "browDownRight": 0.55, "noseSneerLeft": 0.25, "noseSneerRight": 0.25,
              "mouthPressLeft": 0.2, "mouthPressRight": 0.2, "eyeSquintLeft": 0.2, "eyeSquintRight": 0.2},
    "surprised": {"browInnerUp": 0.55, "browOuterUpLeft": 0.55, "browOuterUpRight": 0.55,
                  "eyeWideLeft": 0.4, "eyeWideRight": 0.4, "jawOpen": 0.08},
    "concerned": {"browInnerUp": 0.35, "browDownLeft": 0.15, "browDownRight": 0.15,
                  "mouthFrownLeft": 0.12, "mouthFrownRight": 0.12},
}
EMOTIONS = tuple(_POSES)


def emotion_pose(emotion: str, intensity: float) -> np.ndarray:
    """(52,) pose for `emotion` at `intensity` in [0, 1]. Unknown emotions raise ValueError."""
    if emotion not in _POSES:
        raise ValueError(f"unknown emotion {emotion!r}; known: {', '.join(EMOTIONS)}")
    pose = np.zeros(52, np.float32)
    for name, weight in _POSES[emotion].items():
        pose[INDEX[name]] = weight * float(np.clip(intensity, 0.0, 1.0))
    return pose
