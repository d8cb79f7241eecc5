"""Audio on the bottom floor: the analysis rate, WAV files, resampling.

PCM is int16 mono throughout avbridge. Speech engines pick their own output rate (Piper 22.05 kHz);
everything that listens (voice activity, lips from a voice, the learned model's features) works at
`ANALYSIS_RATE`, so engine audio, files and microphones go through one path.
"""

from __future__ import annotations

import struct
import warnings
import wave
from pathlib import Path

import numpy as np

ANALYSIS_RATE = 16000
"""Hz: the rate perception and the learned motion model read audio at."""


class WavError(ValueError):
    """A file that is not a readable 16-bit PCM wav; the message names the file and why."""


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """(pcm, sample_rate) of a wav of 8-, 16-, 24- or 32-bit PCM or 32/64-bit float samples (what
    engines and audio tools write), as int16: (N,) for mono, (N, channels) else."""
    import scipy.io.wavfile
    path = Path(path)
    if not path.is_file():
        raise WavError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", scipy.io.wavfile.WavFileWarning)   # unknown chunks: harmless
            rate, data = scipy.io.wavfile.read(path)
    except (ValueError, EOFError, OSError, struct.error) as exc:      # struct.error: a header cut short
        raise WavError(f"{path}: not a readable wav ({exc})") from None
    return _to_int16(np.asarray(data)), int(rate)


def _to_int16(data: np.ndarray) -> np.ndarray:
    if data.dtype == np.int16:
        return data
    if data.dtype.kind == "f":
        return np.round(np.clip(data, -1.0, 1.0) * 32767.0).astype(np.int16)
    if data.dtype == np.uint8:
        return ((data.astype(np.int16) - 128) << 8).astype(np.int16)
    if data.dtype.kind == "i":                  # 24-bit comes as int32 scaled to the top bits
        return (data >> (8 * data.dtype.itemsize - 16)).astype(np.int16)
    raise WavError(f"samples of type {data.dtype} are not audio")


def read_wav_mono(path: str | Path) -> tuple[np.ndarray, int]:
    """(pcm, sample_rate) with several channels mixed down to one, int16."""
    pcm, rate = read_wav(path)
    if pcm.ndim == 2:
        pcm = np.round(pcm.mean(axis=1)).astype(np.int16)
    return pcm, rate


def write_wav(path: str | Path, pcm: np.ndarray, sample_rate: int) -> None:
    """Write (N,) int16 mono PCM as a wav."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(np.asarray(pcm, "<i2").tobytes())


def to_analysis_rate(pcm: np.ndarray, rate: int) -> np.ndarray:
    """int16 (or float in -1..1) mono or (n, channels) at `rate` -> int16 mono at 16 kHz."""
    import soxr
    x = np.asarray(pcm)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if x.dtype.kind == "f":
        x = x * 32767.0
    x = x.astype(np.float32)
    if rate != ANALYSIS_RATE:
        x = soxr.resample(x, int(rate), ANALYSIS_RATE)
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


class Resampler:
    """Streaming resampling to 16 kHz (libsoxr): pieces of any size in, no clicks at the seams, the
    same samples as resampling the whole at once (up to the filter's short delay)."""

    def __init__(self, rate: int) -> None:
        import soxr
        self.rate = int(rate)
        self._stream = None if self.rate == ANALYSIS_RATE else soxr.ResampleStream(self.rate, ANALYSIS_RATE, 1, dtype="int16")

    def push(self, pcm: np.ndarray) -> np.ndarray:
        pcm = np.ascontiguousarray(pcm, np.int16)
        return pcm if self._stream is None else self._stream.resample_chunk(pcm)

    def flush(self) -> np.ndarray:
        """The samples still inside the filter, once the input has ended."""
        if self._stream is None:
            return np.zeros(0, np.int16)
        return self._stream.resample_chunk(np.zeros(0, np.int16), last=True)
