"""Portrait sessions (SPEC 8.8): a `portrait` request fits a photo to the session, and from then on
every piece of frames the session queues is also rendered on the photo and queued as `video`
messages on the same timeline.

Rendering runs where the frames are made (the session's own task on the worker pool), never on the
I/O thread; the fit (~40 ms, once a photo) runs in the request's handler. Imported only when a
portrait is requested, so a server without the camera extra (MediaPipe, OpenCV) starts as before.
"""

from __future__ import annotations

import importlib.util
import threading
from typing import Any

import numpy as np

from avbridge.core.track import Track
from avbridge.protocol import Message, ProtocolError
from avbridge.protocol.schema import VIDEO_FORMATS
from avbridge.protocol.stream import video_message

DEFAULTS = {"size": 512, "fps": 25.0, "format": "jpeg", "quality": 85}


def portrait_available() -> bool:
    """The `portrait` capability: MediaPipe, OpenCV and the face model are all here."""
    if not (importlib.util.find_spec("mediapipe") and importlib.util.find_spec("cv2")):
        return False
    from avbridge.perception.face import model_path
    try:
        model_path()
    except FileNotFoundError:
        return False
    return True


class PortraitVideo:
    """A session's photo and how its frames become video."""

    def __init__(self, decoder: Any, fps: float, fmt: str, quality: int) -> None:
        self.decoder = decoder
        self.fps = fps
        self.format = fmt
        self.quality = quality
        self.width, self.height = decoder.portrait.size
        self._lock = threading.Lock()      # one render at a time per session (the decoder keeps state)

    def items(self, session: str, utterance: str, start: float, track: Track, session_fps: float
              ) -> list[tuple[float, int, Message, int, int]]:
        """(media time, order, message, 0, 0) for each video frame whose time falls in `track`:
        frame m shows the track frame nearest to m / fps."""
        first, end = track.start_frame, track.start_frame + len(track)
        if end <= first:
            return []
        ratio = session_fps / self.fps
        m = int(np.ceil((first - 0.5) / ratio - 1e-9))
        packed = track.packed()
        out = []
        with self._lock:
            while True:
                n = int(np.floor(m * ratio + 0.5))
                if n >= end:
                    break
                if n >= first:
                    image = self.decoder.render(packed[n - first].astype(np.float64))
                    at = start + m / self.fps
                    out.append((at, 3, video_message(session, utterance, at, m, self.fps, self.format,
                                                     self.width, self.height, self._encode(image)), 0, 0))
                m += 1
        return out

    def _encode(self, image: np.ndarray) -> bytes:
        if self.format == "rgb":
            return np.ascontiguousarray(image).tobytes()
        import cv2
        ok, data = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        return data.tobytes()


class Portraits:
    """Fits photos for sessions; one face finder shared by all (MediaPipe's landmarker is not
    thread-safe, so fits take turns)."""

    def __init__(self) -> None:
        self._finder: Any = None
        self._lock = threading.Lock()

    def attach(self, session: Any, m: Message) -> Message:
        from avbridge.render.portrait import (
            PortraitDecoder,
            PortraitError,
            fit_portrait,
        )
        from avbridge.render.portrait.fit import load_image

        fmt = m.get("format", DEFAULTS["format"])
        if fmt not in VIDEO_FORMATS:
            raise ProtocolError("bad_field", f"portrait: format {fmt!r} is not one of {', '.join(VIDEO_FORMATS)}")
        try:
            rgb = load_image(m.bulk[0], int(m.get("size", DEFAULTS["size"])))
            with self._lock:
                if self._finder is None:
                    from avbridge.render.portrait.landmarks import FaceFinder
                    self._finder = FaceFinder()
                portrait = fit_portrait(rgb, self._finder)
        except PortraitError as exc:
            raise ProtocolError(exc.code, f"portrait: {exc}") from exc
        session.video = PortraitVideo(PortraitDecoder(portrait), float(m.get("fps", DEFAULTS["fps"])), fmt,
                                      int(m.get("quality", DEFAULTS["quality"])))
        return Message("ok", {"re": m.seq, "session": session.id})

    def close(self) -> None:
        """Release MediaPipe's graph: one left open kept a test process from exiting."""
        with self._lock:
            if self._finder is not None:
                self._finder.close()
                self._finder = None
