"""Speech played on a local output device, each sample heard at its own time on the machine's
monotonic clock: the Live Link / VMC frames sent at the same times (server/udp_pacer.py) are then
in sync with what the room hears, whatever the device's buffering.

Runs inside the sender process (server/udp_pacer.py), away from the server's interpreter lock, so
PortAudio's callback is never starved by speech synthesis. Lines of several sessions mix.

How a sample's time is kept: PortAudio tells each callback when its first sample reaches the DAC
(`outputBufferDacTime`, on the stream's clock); the stream's clock maps onto the monotonic one by
the offset between the two read at that callback. A chunk whose time has passed when it arrives
loses only its late part. Audio at another rate than the device's is resampled linearly (speech at
22 kHz onto a 48 kHz device; its band is far below either Nyquist).

Shapes: add(start, rate, pcm (N,) int16, key, offset); cut(key, samples, rate) drops samples of
`key` from utterance sample `samples` on; fill(out (frames,) float32, heard) mixes a buffer.
"""

from __future__ import annotations

import threading
import time

import numpy as np


class _Chunk:
    __slots__ = ("start", "x", "key", "first", "fresh")

    def __init__(self, start: float, x: np.ndarray, key: tuple, first: int) -> None:
        self.start = start        # monotonic time x[0] is to be heard
        self.x = x                # float32 at the device's rate
        self.key = key
        self.first = first        # x[0]'s position in its utterance, at the device's rate
        self.fresh = True         # nothing of it has played yet


class Mixer:
    """Sans-IO: chunks in, with the monotonic time each is to be heard; device buffers out, given
    the monotonic time their first sample is heard."""

    def __init__(self, rate: int) -> None:
        self.rate = int(rate)
        self._lock = threading.Lock()
        self._chunks: list[_Chunk] = []
        self.late_samples = 0          # samples that came after their time and were never heard

    def add(self, start: float, rate: int, pcm: np.ndarray, key: tuple, offset: int) -> None:
        x = np.asarray(pcm, np.float32) / 32768.0
        if rate != self.rate and len(x):
            n = int(round(len(x) * self.rate / rate))
            x = np.interp(np.arange(n) * rate / self.rate, np.arange(len(x)), x).astype(np.float32)
        with self._lock:
            self._chunks.append(_Chunk(start, x, key, int(round(offset * self.rate / rate))))

    def cut(self, key: tuple, samples: int, rate: int) -> None:
        """Drop what `key` has from its utterance sample `samples` (at `rate`) on."""
        limit = int(round(samples * self.rate / rate))
        with self._lock:
            for c in self._chunks:
                if c.key == key:
                    c.x = c.x[:max(0, limit - c.first)]
            self._chunks = [c for c in self._chunks if len(c.x)]

    def drop(self, session: str) -> None:
        with self._lock:
            self._chunks = [c for c in self._chunks if c.key[0] != session]

    def fill(self, out: np.ndarray, heard: float) -> None:
        """Mix into `out` (frames,) float32 the samples heard from monotonic time `heard` on."""
        frames = len(out)
        out.fill(0.0)
        end = heard + frames / self.rate
        with self._lock:
            kept = []
            for c in self._chunks:
                if c.start >= end:
                    kept.append(c)
                    continue
                at = int(round((c.start - heard) * self.rate))    # where the chunk begins in this buffer
                src, dst = max(0, -at), max(0, at)
                if c.fresh and src:
                    self.late_samples += min(src, len(c.x))        # it came after its time
                n = max(0, min(frames - dst, len(c.x) - src))
                out[dst:dst + n] += c.x[src:src + n]
                used = src + n
                if used < len(c.x):
                    c.start += used / self.rate
                    c.x, c.first, c.fresh = c.x[used:], c.first + used, False
                    kept.append(c)
            self._chunks = kept
        np.clip(out, -1.0, 1.0, out=out)


class DevicePlayer(Mixer):
    """A Mixer on a sounddevice output stream."""

    def __init__(self, device: str | int | None = None) -> None:
        import sounddevice   # the audio extra; only this process imports it
        info = sounddevice.query_devices(device, "output")
        super().__init__(int(info["default_samplerate"]))
        self.name = str(info["name"])
        self.underruns = 0
        self._stream = sounddevice.OutputStream(device=device, channels=1, samplerate=self.rate, dtype="float32",
                                                latency="low", callback=self._callback)
        self._stream.start()

    @property
    def latency_s(self) -> float:
        return float(self._stream.latency)

    def _callback(self, out, frames, time_info, status) -> None:     # PortAudio's thread
        if status.output_underflow:
            self.underruns += 1
        # The first sample of this buffer reaches the DAC at this monotonic time.
        self.fill(out[:, 0], time_info.outputBufferDacTime + (time.monotonic() - self._stream.time))

    def close(self) -> None:
        self._stream.stop()
        self._stream.close()
