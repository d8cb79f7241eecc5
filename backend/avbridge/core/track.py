"""Track: the animation of one avatar on a fixed frame grid.

Shapes (T frames):
    blendshapes  (T, 52) float32, ARKit weights in [0, 1], order `avbridge.core.arkit.ARKIT_BLENDSHAPES`
    head         (T, 7)  float32, unit quaternion (x, y, z, w) then translation (x, y, z) in metres
    gaze         (T, 4)  float32, left eye yaw, left eye pitch, right eye yaw, right eye pitch (radians)

Frame n of a track that starts at frame `start_frame` lies at `start + (start_frame + n) / fps`
on the session timeline, where `start` is the start of the utterance it belongs to.

Axes (right-handed, the avatar's own frame): x to the avatar's left, y up, z out of the face toward
the viewer. Positive yaw (about +y) turns the face to the avatar's left, positive pitch (about +x)
tilts it down, positive roll (about +z) lowers the right ear. Gaze angles follow the same signs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avbridge.core.arkit import ARKIT_BLENDSHAPES
from avbridge.core.rotation import quaternion_to_yaw_pitch_roll

FRAME_WIDTH = 52 + 7 + 4
"""float32 values per frame on the wire: blendshapes, head pose, gaze."""


@dataclass
class Track:
    fps: float
    blendshapes: np.ndarray
    head: np.ndarray
    gaze: np.ndarray
    start_frame: int = 0

    def __post_init__(self) -> None:
        t = len(self.blendshapes)
        if self.blendshapes.shape != (t, 52) or self.head.shape != (t, 7) or self.gaze.shape != (t, 4):
            raise ValueError(
                f"track shapes disagree: blendshapes {self.blendshapes.shape}, "
                f"head {self.head.shape}, gaze {self.gaze.shape}; want (T,52), (T,7), (T,4)")

    def __len__(self) -> int:
        return len(self.blendshapes)

    @classmethod
    def empty(cls, fps: float, start_frame: int = 0) -> "Track":
        return cls.neutral(fps, 0, start_frame)

    @classmethod
    def neutral(cls, fps: float, frames: int, start_frame: int = 0) -> "Track":
        head = np.zeros((frames, 7), np.float32)
        head[:, 3] = 1.0
        return cls(fps, np.zeros((frames, 52), np.float32), head,
                   np.zeros((frames, 4), np.float32), start_frame)

    def packed(self) -> np.ndarray:
        """(T, 63) float32 in wire order: blendshapes, head, gaze."""
        return np.concatenate([self.blendshapes, self.head, self.gaze], axis=1).astype(np.float32)

    @classmethod
    def from_packed(cls, fps: float, frames: np.ndarray, start_frame: int = 0) -> "Track":
        frames = np.asarray(frames, np.float32).reshape(-1, FRAME_WIDTH)
        return cls(fps, frames[:, :52].copy(), frames[:, 52:59].copy(), frames[:, 59:].copy(),
                   start_frame)

    @classmethod
    def concatenate(cls, tracks: list["Track"], fps: float) -> "Track":
        if not tracks:
            return cls.empty(fps)
        return cls(fps, np.concatenate([t.blendshapes for t in tracks]),
                   np.concatenate([t.head for t in tracks]),
                   np.concatenate([t.gaze for t in tracks]), tracks[0].start_frame)

    def channel(self, name: str) -> np.ndarray:
        return self.blendshapes[:, ARKIT_BLENDSHAPES.index(name)]

    def head_euler(self) -> np.ndarray:
        """(T, 3) yaw, pitch, roll in radians from the head quaternions (Y-X-Z order)."""
        return quaternion_to_yaw_pitch_roll(self.head[:, :4])

