"""Audio in: every live source becomes int16 mono at 16 kHz, in order, in pieces of any size.

Sources share one small interface (`read() -> np.ndarray | None`, None once the source has ended),
so a test feeding a recording and a microphone take the same path after this point. The engine's
own PCM (protocol `user_audio`) is pushed straight into the session and never goes through a
source object.
"""

from __future__ import annotations

import queue
import time
from pathlib import Path
from typing import Protocol

import numpy as np

from avbridge.core.audio import ANALYSIS_RATE, Resampler, read_wav, to_analysis_rate


class AudioSource(Protocol):
    def read(self) -> np.ndarray | None:
        """The next int16 piece at 16 kHz (may be empty), or None once the source has ended."""


class FileSource:
    """A recording played as a live source, in `chunk_s` pieces; `realtime` paces reads to the
    clock the way a microphone delivers them."""

    def __init__(self, path: str | Path, chunk_s: float = 0.02, realtime: bool = False) -> None:
        data, rate = read_wav(path)
        self.samples = to_analysis_rate(data, rate)
        self.chunk = max(1, int(round(chunk_s * ANALYSIS_RATE)))
        self.realtime = realtime
        self._pos = 0
        self._t0: float | None = None

    def read(self) -> np.ndarray | None:
        if self._pos >= len(self.samples):
            return None
        if self.realtime:
            if self._t0 is None:
                self._t0 = time.monotonic()
            due = self._t0 + (self._pos + self.chunk) / ANALYSIS_RATE
            time.sleep(max(0.0, due - time.monotonic()))
        piece = self.samples[self._pos:self._pos + self.chunk]
        self._pos += self.chunk
        return piece


class DeviceSource:
    """A capture device through sounddevice (PortAudio), resampled to 16 kHz. `read` blocks for
    the next block the device delivers, up to `timeout_s`, and returns an empty piece on a
    timeout so a caller can check its own stop flag."""

    def __init__(self, device: int | str | None = None, block_s: float = 0.02, timeout_s: float = 0.5) -> None:
        import sounddevice  # optional dependency: pip install avbridge[audio]
        info = sounddevice.query_devices(device, "input")
        self.rate = int(info["default_samplerate"])
        self.name = str(info["name"])
        self._timeout = timeout_s
        self._queue: queue.Queue[np.ndarray] = queue.Queue(maxsize=500)
        self._resampler = Resampler(self.rate)
        self.overflows = 0

        def on_block(block, frames, time_info, status) -> None:   # PortAudio's thread
            if status.input_overflow:
                self.overflows += 1
            try:
                self._queue.put_nowait(block[:, 0].copy())
            except queue.Full:
                self.overflows += 1

        self._stream = sounddevice.InputStream(device=device, channels=1, samplerate=self.rate, dtype="int16",
                                               blocksize=max(1, int(block_s * self.rate)), callback=on_block)
        self._stream.start()

    def read(self) -> np.ndarray | None:
        try:
            block = self._queue.get(timeout=self._timeout)
        except queue.Empty:
            return np.zeros(0, np.int16)
        return self._resampler.push(block)

    def close(self) -> None:
        self._stream.stop()
        self._stream.close()
