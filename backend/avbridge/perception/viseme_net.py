"""A small streaming viseme recogniser: which of the 15 mouth classes a voice is making, every
10 ms, 52.5 ms behind the microphone, in about 1.5 % of a CPU core.

It exists for the voice-only telepresence lips (motion/voice_lips.py), where a general phoneme
recogniser is too slow to run on every 10 ms of a stream (perception/phone_recogniser.py needs
about 47 ms of CPU per window it hears); engine audio also takes its shapes (motion/heard.py). It was trained on speechocean762 (read English by 250 speakers, free for
commercial use; phones aligned by PocketSphinx, perception/phones.py) with speed, noise, band and
room augmentation: training/train_visemes.py, docs/quality.md "Real speech".

Front end: 40 log-mel bands of a 25 ms Hann window every 10 ms, minus a running mean (3 s time
constant, started at the training set's mean) so that a microphone's colour does not move the
classes. Model: the features of CONTEXT_PAST frames before and LOOKAHEAD frames after each frame,
stacked, through a 3-layer perceptron (numpy at run time; torch only to train it).

Shapes: features: int16 at 16 kHz (N,) -> (T, 40), frame k centred on sample k * 160.
VisemeNet.log_probs(features (T, 40)) -> (T - CONTEXT_PAST - LOOKAHEAD, 15) for frames
CONTEXT_PAST .. T - LOOKAHEAD - 1. StreamingVisemes.push(int16 (N,)) -> (first frame, (T, 15)
posteriors); frame k comes out once the audio up to (k + LOOKAHEAD) * 10 ms + 12.5 ms has arrived.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
HOP = 160                    # 10 ms
WINDOW = 400                 # 25 ms
N_FFT = 512
N_MELS = 40
CONTEXT_PAST = 20            # 200 ms of what was said before
LOOKAHEAD = 4                # 40 ms of what comes after: with the window, 52.5 ms of audio ahead
MEAN_TAU_S = 3.0
LATENCY_S = LOOKAHEAD * HOP / SAMPLE_RATE + WINDOW / 2 / SAMPLE_RATE
CHECKPOINT = Path(__file__).with_name("viseme_net.npz")


def _mel_filters() -> np.ndarray:
    """(N_FFT // 2 + 1, N_MELS) triangular filters on the HTK mel scale, 60 Hz - 7.6 kHz."""
    def mel(f: np.ndarray | float) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def hz(m: np.ndarray) -> np.ndarray:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    edges = hz(np.linspace(mel(60.0), mel(7600.0), N_MELS + 2))
    freqs = np.linspace(0.0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None, :] - lower) / (centre - lower)
    falling = (upper - freqs[None, :]) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling)).T.astype(np.float32)


_FILTERS = _mel_filters()
_WINDOW = np.hanning(WINDOW).astype(np.float32)


def log_mel(pcm: np.ndarray) -> np.ndarray:
    """(T, N_MELS) log-mel energies of int16 `pcm`, frame k over samples [k*HOP - WINDOW/2,
    k*HOP + WINDOW/2) (zeros before the first sample); only frames whose window has fully arrived."""
    return _log_mel_windows(np.concatenate([np.zeros(WINDOW // 2, np.int16), np.asarray(pcm, np.int16)]))


def _log_mel_windows(x: np.ndarray) -> np.ndarray:
    """Log-mel of every whole window in `x`, the first starting at x[0], one per HOP."""
    count = (len(x) - WINDOW) // HOP + 1
    if count <= 0:
        return np.zeros((0, N_MELS), np.float32)
    samples = np.asarray(x, np.float32) / 32768.0
    frames = np.lib.stride_tricks.sliding_window_view(samples, WINDOW)[::HOP][:count] * _WINDOW
    power = np.abs(np.fft.rfft(frames, N_FFT)) ** 2
    return np.log(power @ _FILTERS + 1e-8).astype(np.float32)


def running_mean_removed(features: np.ndarray, start_mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(features minus a causal running mean with time constant MEAN_TAU_S, the mean after the last
    frame). The same in training and streaming, so the model sees what it was trained on."""
    alpha = 1.0 / (MEAN_TAU_S * SAMPLE_RATE / HOP)
    out = np.empty_like(features)
    mean = start_mean.astype(np.float64).copy()
    # Loud frames only move the mean: silence would pull it down towards the noise floor.
    for i, frame in enumerate(features):
        out[i] = frame - mean
        if frame.max() > mean.max() - 8.0:
            mean += alpha * (frame - mean)
    return out, mean.astype(np.float32)


def stack_context(features: np.ndarray) -> np.ndarray:
    """(T - CONTEXT_PAST - LOOKAHEAD, (CONTEXT_PAST + 1 + LOOKAHEAD) * N_MELS): each frame's view."""
    span = CONTEXT_PAST + 1 + LOOKAHEAD
    if len(features) < span:
        return np.zeros((0, span * features.shape[1]), np.float32)
    windows = np.lib.stride_tricks.sliding_window_view(features, (span, features.shape[1]))[:, 0]
    return windows.reshape(len(windows), -1)


class VisemeNet:
    """The trained perceptron. Weights: w0 (1000, H), b0, w1 (H, H), b1, w2 (H, 15), b2; `scale`
    and `offset` normalise the stacked features; `start_mean` (40,) starts the running mean;
    `classes` names the outputs (the viseme names of motion/visemes.py)."""

    def __init__(self, path: str | Path = CHECKPOINT) -> None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no viseme recogniser checkpoint")
        with np.load(path, allow_pickle=False) as data:
            self.layers = [(data[f"w{i}"].astype(np.float32), data[f"b{i}"].astype(np.float32))
                           for i in range(3)]
            self.offset = data["offset"].astype(np.float32)
            self.scale = data["scale"].astype(np.float32)
            self.start_mean = data["start_mean"].astype(np.float32)
            self.classes = tuple(str(c) for c in data["classes"])
        if self.layers[0][0].shape[0] != (CONTEXT_PAST + 1 + LOOKAHEAD) * N_MELS:
            raise ValueError(f"{path}: the checkpoint's context does not match this front end")

    def log_probs(self, normalised: np.ndarray) -> np.ndarray:
        """(T', 15) log-posteriors of mean-removed features (T, 40); see the module's shapes."""
        h = (stack_context(normalised) - self.offset) * self.scale
        for i, (w, b) in enumerate(self.layers):
            h = h @ w + b
            if i < len(self.layers) - 1:
                np.maximum(h, 0.0, out=h)
        h -= h.max(axis=1, keepdims=True)
        return h - np.log(np.exp(h).sum(axis=1, keepdims=True))


def edge_padded(features: np.ndarray, start: bool = True, end: bool = True) -> np.ndarray:
    """(T, 40) -> the frames with the first repeated CONTEXT_PAST times before them (the past
    before the audio began) and the last LOOKAHEAD times after (the future after it ended): what
    the perceptron sees at the edges of a recording, in the stream and in training alike."""
    pieces = [features]
    if start:
        pieces.insert(0, np.repeat(features[:1], CONTEXT_PAST, axis=0))
    if end:
        pieces.append(np.repeat(features[-1:], LOOKAHEAD, axis=0))
    return np.concatenate(pieces)


@lru_cache(maxsize=1)
def shipped_net() -> VisemeNet:
    """The checkpoint in the package, loaded once: the net is read-only, so streams share it."""
    return VisemeNet()


class StreamingVisemes:
    """VisemeNet over a live stream: features as the audio arrives, posteriors as soon as each
    frame's look-ahead has been heard. The first frame stands in for the past before the stream
    began (and `finish` lets the last one stand in for the future), as in training."""

    def __init__(self, net: VisemeNet | None = None) -> None:
        self.net = net or shipped_net()
        self._audio = np.zeros(WINDOW // 2, np.int16)      # from the next frame's window start
        self._features = np.zeros((0, N_MELS), np.float32)  # mean-removed, frames _first.. on
        self._first = 0
        self._mean = self.net.start_mean.copy()
        self._next = 0                                      # the next frame to give posteriors for

    def push(self, pcm: np.ndarray) -> tuple[int, np.ndarray]:
        self._audio = np.concatenate([self._audio, np.asarray(pcm, np.int16).reshape(-1)])
        raw = _log_mel_windows(self._audio)
        if len(raw):
            self._audio = self._audio[len(raw) * HOP:]
            normalised, self._mean = running_mean_removed(raw, self._mean)
            if self._first == 0 and len(self._features) == 0:
                normalised = edge_padded(normalised, end=False)
                self._first = -CONTEXT_PAST
            self._features = np.concatenate([self._features, normalised])
        return self._give(self._first + len(self._features) - LOOKAHEAD)

    def finish(self) -> tuple[int, np.ndarray]:
        """The posteriors of the frames still waiting for their look-ahead, the stream having ended."""
        if len(self._features):
            self._features = edge_padded(self._features, start=False)
        return self._give(self._first + len(self._features) - LOOKAHEAD)

    def _give(self, available: int) -> tuple[int, np.ndarray]:
        first = self._next
        if available <= first:
            return first, np.zeros((0, len(self.net.classes)), np.float32)
        start = first - CONTEXT_PAST - self._first
        out = np.exp(self.net.log_probs(self._features[start:available + LOOKAHEAD - self._first]))
        self._next = first + len(out)
        keep = self._next - CONTEXT_PAST - self._first
        self._features = self._features[keep:]
        self._first += keep
        return first, out.astype(np.float32)


def at_frames(posteriors: np.ndarray, first_row: int, samples: np.ndarray, fps: float) -> np.ndarray:
    """(T, 15) the posteriors averaged over each animation frame: `posteriors` (R, 15) are rows
    first_row.. at 10 ms, `samples` (T,) the frames' centres in 16 kHz samples. Frames past the
    last row keep the last row's (the recogniser has not heard them yet); with no rows, zeros."""
    if len(posteriors) == 0:
        return np.zeros((len(samples), posteriors.shape[1]), np.float32)
    half = max(1, int(round(SAMPLE_RATE / fps / HOP / 2)))
    rows = np.round(np.asarray(samples) / HOP).astype(np.int64) - first_row
    span = np.clip(rows[:, None] + np.arange(-half, half + 1)[None, :], 0, len(posteriors) - 1)
    return posteriors[span].mean(axis=1)


def posteriors(pcm: np.ndarray, net: VisemeNet | None = None) -> np.ndarray:
    """(T, 15) posteriors of a whole recording, frame k at k * 10 ms: exactly what the stream gives."""
    stream = StreamingVisemes(net)
    _, head = stream.push(pcm)
    _, tail = stream.finish()
    return np.concatenate([head, tail])
