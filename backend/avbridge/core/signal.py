"""Signal features of speech audio on the frame grid: loudness and pitch, and the one-pole smoother.

Shapes (T frames, given as integer sample indices into the pcm):
    loudness  (T,)  RMS over one frame around each frame time, relative to loud speech
    pitch     (T,)  fundamental frequency in Hz from the normalised autocorrelation peak; 0 where
                    unvoiced (peak below 0.45) or quiet
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

MIN_LOUDNESS_REF = 1500.0   # int16 RMS: the loudness reference never drops below this
PITCH_RANGE_HZ = (70.0, 400.0)


def frame_windows(x: np.ndarray, centres: np.ndarray, half: int) -> np.ndarray:
    """(T, 2 * half) windows of x around each centre, zero outside x."""
    padded = np.pad(x, (half, half))
    index = centres[:, None] + np.arange(2 * half)[None, :]
    return padded[np.clip(index, 0, len(padded) - 1)]


REFERENCE_DECAY_S = 4.0      # how fast the loudness reference forgets a loud passage
REFERENCE_SHARE = 0.75       # loudness 1.0 is this share of the recent peak


def loudness(pcm: np.ndarray, sample_rate: int, centres: np.ndarray, fps: float, peak: float,
             causal: bool = False) -> tuple[np.ndarray, float]:
    """(T,) RMS over one frame around each frame's sample index `centres` (integers, so a frame
    gets the same window however the audio is cut) relative to the speech level, and the updated
    state. The level is a peak follower: the loudest recent frame, decaying with a time constant of
    REFERENCE_DECAY_S. It is computed frame by frame, so it does not depend on how the audio is cut:
        log ref[n] = n log d + max over k <= n of (log rms[k] - k log d)
    which a cumulative maximum gives without a loop.

    The window is one frame either side of the frame time, or, with `causal`, the two frames
    before it: causal values depend only on audio already received."""
    x = pcm.astype(np.float64)
    if len(x) == 0 or len(centres) == 0:
        return np.zeros(len(centres), np.float32), peak
    half = max(1, int(sample_rate / fps))
    centres = np.clip(centres, 0, len(x) - 1)
    csum = np.concatenate([[0.0], np.cumsum(x ** 2)])
    lo = np.clip(centres - (2 * half if causal else half), 0, len(x))
    hi = np.clip(centres if causal else centres + half, 0, len(x))
    rms = np.sqrt((csum[hi] - csum[lo]) / np.maximum(hi - lo, 1))
    log_d = -1.0 / (REFERENCE_DECAY_S * fps)
    n = np.arange(len(rms))
    shifted = np.log(np.maximum(rms, 1e-9)) - n * log_d
    running = np.maximum.accumulate(np.maximum(shifted, np.log(max(peak, 1e-9)) + log_d))
    reference = np.maximum(np.exp(running + n * log_d), MIN_LOUDNESS_REF / REFERENCE_SHARE)
    return np.clip(rms / (REFERENCE_SHARE * reference), 0.0, 1.5).astype(np.float32), float(reference[-1])


def pitch(pcm: np.ndarray, sample_rate: int, centres: np.ndarray, loud: np.ndarray) -> np.ndarray:
    """(T,) F0 in Hz (0: unvoiced). Autocorrelation over the 40 ms before each frame time (causal:
    a live stream cut anywhere gives the same values), for all frames in one batch of FFTs."""
    if len(pcm) == 0 or len(centres) == 0:
        return np.zeros(len(centres), np.float32)
    half = int(0.02 * sample_rate)
    centres = np.clip(centres - half, 0, len(pcm) - 1)
    windows = frame_windows(pcm.astype(np.float64), centres, half)
    windows -= windows.mean(axis=1, keepdims=True)
    windows *= np.hanning(windows.shape[1])[None, :]
    n = 1 << int(np.ceil(np.log2(2 * windows.shape[1])))
    spectrum = np.fft.rfft(windows, n)
    ac = np.fft.irfft(spectrum * np.conj(spectrum), n)[:, : windows.shape[1]]
    energy = ac[:, :1] + 1e-9
    ac = ac / energy
    lo = int(sample_rate / PITCH_RANGE_HZ[1])
    hi = min(int(sample_rate / PITCH_RANGE_HZ[0]), ac.shape[1] - 2)
    segment = ac[:, lo:hi]
    peak = np.argmax(segment, axis=1) + lo
    strength = ac[np.arange(len(ac)), peak]
    # Parabolic interpolation of the peak for sub-sample lag.
    a, b, c = ac[np.arange(len(ac)), peak - 1], strength, ac[np.arange(len(ac)), np.minimum(peak + 1, ac.shape[1] - 1)]
    denominator = a - 2 * b + c
    shift = np.where(np.abs(denominator) > 1e-9, 0.5 * (a - c) / np.where(denominator == 0, 1, denominator), 0)
    f0 = sample_rate / (peak + shift)
    voiced = (strength > 0.45) & (loud > 0.15)
    return np.where(voiced, f0, 0.0).astype(np.float32)


def one_pole(x: np.ndarray, initial: float | list[float] | np.ndarray, tau_frames: float) -> np.ndarray:
    """y[n] = y[n-1] + a (x[n] - y[n-1]) along axis 0 from y[-1] = `initial`, a = 1 - exp(-1/tau).
    An IIR filter in scipy: a Python loop here held the interpreter lock for milliseconds, which
    delayed the server's sends."""
    alpha = 1 - np.exp(-1.0 / max(tau_frames, 1e-6))
    x = np.asarray(x, np.float64)
    initial = np.broadcast_to(np.asarray(initial, np.float64), x.shape[1:])
    zi = ((1 - alpha) * initial)[None, ...]
    y, _ = lfilter([alpha], [1.0, -(1 - alpha)], x, axis=0, zi=zi)
    return y.astype(np.float32)
