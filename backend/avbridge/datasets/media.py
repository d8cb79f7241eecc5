"""Audio and video frames out of recordings (wav, .mov, .mp4, ...) with PyAV, which ships its
own FFmpeg libraries in the wheel (it comes with faster-whisper).

`read_audio` gives int16 mono at 16 kHz and, where the container carries one, the recording's
start timecode in seconds of the day (Live Link Face's .mov has a timecode track; a wav has none).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from avbridge.core.audio import WavError, read_wav, to_analysis_rate
from avbridge.datasets.corpus import DatasetError


@dataclass
class Audio:
    pcm: np.ndarray               # (N,) int16, 16 kHz mono
    start_timecode: float | None  # seconds of the day at pcm[0], when the file says


def fit_length(pcm: np.ndarray, samples: int) -> np.ndarray:
    """`pcm` cut or padded with silence at the end to exactly `samples` samples."""
    return np.concatenate([pcm, np.zeros(max(0, samples - len(pcm)), np.int16)])[:samples]


def parse_smpte(text: str, rate: float) -> float:
    """'HH:MM:SS:FF' or 'HH:MM:SS;FF' (drop-frame spelling) at `rate` frames a second -> seconds."""
    parts = text.replace(";", ":").replace(".", ":").split(":")
    if len(parts) != 4:
        raise ValueError(f"timecode {text!r} is not HH:MM:SS:FF")
    hours, minutes, seconds, frames = (int(p) for p in parts)
    return hours * 3600 + minutes * 60 + seconds + frames / rate


def read_audio(path: str | Path) -> Audio:
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such audio file")
    if path.suffix.lower() == ".wav":
        try:
            data, rate = read_wav(path)
        except WavError as exc:
            raise DatasetError(str(exc)) from None
        return Audio(to_analysis_rate(data, rate), None)
    import av
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise DatasetError(f"{path}: has no audio stream")
            timecode = _timecode(container)
            resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
            pieces = []
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    pieces.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                pieces.append(out.to_ndarray().reshape(-1))
    except av.error.FFmpegError as exc:
        raise DatasetError(f"{path}: cannot decode ({exc})") from None
    pcm = np.concatenate(pieces).astype(np.int16) if pieces else np.zeros(0, np.int16)
    return Audio(pcm, timecode)


def _timecode(container) -> float | None:
    """The start timecode from the container's or a stream's metadata, at the video's rate."""
    video = container.streams.video[0] if container.streams.video else None
    rate = float(video.average_rate) if video is not None and video.average_rate else 30.0
    for metadata in [container.metadata] + [s.metadata for s in container.streams]:
        if "timecode" in metadata:
            try:
                return parse_smpte(metadata["timecode"], round(rate))
            except ValueError:
                return None
    return None


def video_frames(path: str | Path) -> tuple[float, Iterator[tuple[float, np.ndarray]]]:
    """(frames per second, iterator of (time in seconds, RGB uint8 (H, W, 3)))."""
    import av
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such video file")
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise DatasetError(f"{path}: cannot open ({exc})") from None
    if not container.streams.video:
        container.close()
        raise DatasetError(f"{path}: has no video stream")
    stream = container.streams.video[0]
    fps = float(stream.average_rate or 30)

    def frames():
        with container:
            for count, frame in enumerate(container.decode(video=0)):
                time_s = float(frame.pts * stream.time_base) if frame.pts is not None and stream.time_base is not None \
                    else count / fps
                yield time_s, frame.to_ndarray(format="rgb24")

    return fps, frames()
