"""One builder per stream message (SPEC section 6.3), so that every `stream`, `audio`, `frames`,
`event` and `end` the server sends has its fields in one place.

Each returns a `Message` without `seq`: the sender numbers messages when they leave (SPEC 5).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from avbridge.core.arkit import ARKIT_BLENDSHAPES
from avbridge.protocol.codec import Message
from avbridge.protocol.schema import FRAME_LAYOUT


def stream_header(session: str, utterance: str, time: float, re: int, fps: float, sample_rate: int,
                  audio: bool, text: str = "", idle: bool = False) -> Message:
    """The header that opens an utterance's stream; `re` is the request's seq (0 for idle)."""
    return Message("stream", {
        "session": session, "utterance": utterance, "time": time, "re": re, "fps": fps,
        "sample_rate": sample_rate, "audio_format": "s16le", "audio": audio,
        "blendshapes": list(ARKIT_BLENDSHAPES), "frame_layout": list(FRAME_LAYOUT),
        **({"text": text} if text else {}), **({"idle": True} if idle else {})})


def audio_message(session: str, utterance: str, time: float, offset: int, pcm: np.ndarray) -> Message:
    """PCM samples `offset`.. of an utterance, int16 mono."""
    return Message("audio", {"session": session, "utterance": utterance, "time": time, "offset": offset},
                   [np.asarray(pcm, "<i2").tobytes()])


def frames_message(session: str, utterance: str, time: float, first: int, packed: np.ndarray) -> Message:
    """Frames `first`.. of an utterance: `packed` is (count, 63) float32 in wire order."""
    block = np.asarray(packed, "<f4")
    return Message("frames", {"session": session, "utterance": utterance, "time": time, "first": first,
                              "count": len(block)}, [block.tobytes()])


def event_message(session: str, utterance: str, time: float, name: str, **fields: Any) -> Message:
    return Message("event", {"session": session, "utterance": utterance, "time": time, "name": name, **fields})


def end_message(session: str, utterance: str, time: float, status: str, frames: int, samples: int,
                re: int | None = None, reason: str = "") -> Message:
    """The last message of an utterance: `frames` and `samples` are how many belong to it (a client
    drops any it holds beyond them, SPEC 8.4). `re` is absent for idle and live streams."""
    return Message("end", {"session": session, "utterance": utterance, "time": time, "status": status,
                           "frames": int(frames), "samples": int(samples),
                           **({"re": re} if re else {}), **({"reason": reason} if reason else {})})


def video_message(session: str, utterance: str, time: float, index: int, fps: float, fmt: str,
                  width: int, height: int, data: bytes) -> Message:
    """Video frame `index` of an utterance at `fps` (SPEC 8.8): a JPEG file or raw RGB."""
    return Message("video", {"session": session, "utterance": utterance, "time": time, "index": int(index),
                             "fps": float(fps), "format": fmt, "width": int(width), "height": int(height)}, [data])
