"""Camera frames in: an OpenCV capture device or a video file, as RGB uint8 with a timestamp.

Sources share one small interface with the audio ones: `read() -> (time_s, rgb) | None`. Engine-side
face tracking (a phone, a headset) sends weights over the protocol (`user_face`) and skips this.
"""

from __future__ import annotations

import time

import numpy as np


class CameraSource:
    def __init__(self, device: int | str = 0, width: int = 640, height: int = 480) -> None:
        import cv2
        self._cv2 = cv2
        self._capture = cv2.VideoCapture(device)
        if not self._capture.isOpened():
            raise OSError(f"camera {device!r} could not be opened")
        if isinstance(device, int):
            self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        self._file = not isinstance(device, int)
        self._fps = self._capture.get(cv2.CAP_PROP_FPS) or 30.0
        self._frames = 0
        self._t0 = time.monotonic()

    def read(self) -> tuple[float, np.ndarray] | None:
        ok, bgr = self._capture.read()
        if not ok:
            return None
        # A file's frames are timed by their index; a device's by when they arrived.
        t = self._frames / self._fps if self._file else time.monotonic() - self._t0
        self._frames += 1
        return t, self._cv2.cvtColor(bgr, self._cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        self._capture.release()
