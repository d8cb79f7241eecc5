"""Head rotations, through scipy's Rotation (one implementation for the whole package).

Quaternions are (x, y, z, w), scipy's scalar-last order, which is also the wire order (SPEC 8.3).
Angles follow the avatar's frame (core/track.py): yaw about +y, then pitch about +x, then roll
about +z, intrinsic.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

_ORDER = "YXZ"   # intrinsic (upper case): yaw, then pitch, then roll


def yaw_pitch_roll_to_quaternion(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """Angles in radians, each (T,) -> (T, 4) float32 x, y, z, w."""
    angles = np.stack(np.broadcast_arrays(np.asarray(yaw, np.float64), np.asarray(pitch, np.float64),
                                          np.asarray(roll, np.float64)), axis=-1)
    return Rotation.from_euler(_ORDER, angles.reshape(-1, 3)).as_quat().reshape(*angles.shape[:-1], 4).astype(np.float32)


def quaternion_to_yaw_pitch_roll(q: np.ndarray) -> np.ndarray:
    """(T, 4) x, y, z, w -> (T, 3) yaw, pitch, roll in radians (the inverse for |pitch| < 90 degrees)."""
    q = np.asarray(q, np.float64).reshape(-1, 4)
    if not len(q):
        return np.zeros((0, 3))
    return Rotation.from_quat(q).as_euler(_ORDER)


def slerp(a: np.ndarray, b: np.ndarray, w: float) -> np.ndarray:
    """The rotation a fraction `w` of the way from quaternion `a` to `b` (shortest arc), (4,) x, y, z, w."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    relative = Rotation.from_quat(a).inv() * Rotation.from_quat(b)
    return (Rotation.from_quat(a) * Rotation.from_rotvec(relative.as_rotvec() * float(w))).as_quat()
