"""The face in one still photo: MediaPipe FaceLandmarker in image mode, and the checks a photo must
pass before it is animated (one face, big enough, not in profile, not absurdly large).

Shapes: Detection.points (478, 3) in pixels (x right, y down; z MediaPipe's relative depth in the
same units as x, smaller toward the camera); .weights (52,) ARKit order; .head (7,) quaternion x, y,
z, w in avbridge's head axes (x to the person's left, y up, z out of the face) and translation (m).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from avbridge.core.arkit import INDEX
from avbridge.perception.face import model_path

MAX_PIXELS = 40_000_000        # a 50-megapixel upload is refused before it is decoded
MIN_FACE_PIXELS = 64           # narrower faces have too few pixels per landmark to animate
MAX_YAW_DEGREES = 40.0         # past this the far side of the face is hidden: no frontal basis


class PortraitError(ValueError):
    """A photo that cannot be animated: `code` (a protocol error code) and a sentence."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Detection:
    points: np.ndarray
    weights: np.ndarray
    head: np.ndarray
    faces: int

    @property
    def yaw_pitch_degrees(self) -> tuple[float, float]:
        """Yaw (> 0: turned to the person's left) and pitch (> 0: looking down), degrees."""
        euler = Rotation.from_quat(self.head[:4]).as_euler("YXZ", degrees=True)
        return float(euler[0]), float(euler[1])


class FaceFinder:
    """FaceLandmarker in image mode; ~8 ms a 512x512 photo on one core."""

    def __init__(self) -> None:
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision
        self._mp = mp
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=model_path()), running_mode=vision.RunningMode.IMAGE,
            num_faces=4, output_face_blendshapes=True, output_facial_transformation_matrixes=True)
        self._landmarker = vision.FaceLandmarker.create_from_options(options)

    def find(self, rgb: np.ndarray) -> Detection | None:
        h, w = rgb.shape[:2]
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb[..., :3], np.uint8))
        result = self._landmarker.detect(image)
        if not result.face_landmarks:
            return None
        # Several faces: the largest is "the" face; the caller decides whether that is acceptable.
        sizes = [max(p.x for p in f) - min(p.x for p in f) for f in result.face_landmarks]
        best = int(np.argmax(sizes))
        points = np.array([[p.x * w, p.y * h, p.z * w] for p in result.face_landmarks[best]], np.float64)
        weights = np.zeros(52, np.float64)
        for category in result.face_blendshapes[best]:
            if category.category_name in INDEX:
                weights[INDEX[category.category_name]] = category.score
        matrix = np.asarray(result.facial_transformation_matrixes[best], np.float64)
        u, _, vt = np.linalg.svd(matrix[:3, :3])
        rotation = u @ vt if np.linalg.det(u @ vt) > 0 else -(u @ vt)
        head = np.r_[Rotation.from_matrix(rotation).as_quat(), matrix[:3, 3] / 100.0]
        return Detection(points, weights, head, len(result.face_landmarks))

    def close(self) -> None:
        self._landmarker.close()


def check_face(detection: Detection | None, shape: tuple[int, ...]) -> Detection:
    """The photo's one usable face, or a PortraitError saying what is wrong with it."""
    if detection is None:
        raise PortraitError("no_face", "no face was found in the image; use a photo with one face, looking roughly at the camera")
    if detection.faces > 1:
        raise PortraitError("several_faces", f"the image has {detection.faces} faces; crop it to the one to animate")
    width = detection.points[:, 0].max() - detection.points[:, 0].min()
    if width < MIN_FACE_PIXELS:
        raise PortraitError("face_too_small", f"the face is {width:.0f} pixels wide; at least {MIN_FACE_PIXELS} are needed (crop closer or use a larger photo)")
    yaw, _ = detection.yaw_pitch_degrees
    if abs(yaw) > MAX_YAW_DEGREES:
        raise PortraitError("face_in_profile", f"the face is turned {abs(yaw):.0f} degrees from the camera; at most {MAX_YAW_DEGREES:.0f} can be animated")
    return detection
