"""What the flow model sees and makes, frame by frame at the model's rate (`fps`, 30 by default).

Shapes (T model frames):
    audio   (T, AUDIO_DIM) float32  log-mel of the avatar's speech: MEL_BINS bands at SUBFRAMES
                                    instants per frame (n/fps -+ 1/(4 fps)), 32 ms Hann windows
    tokens  (T,) int64              viseme of the phoneme under each frame (1 + VISEME_INDEX), or
                                    NO_TOKEN where no timeline is known (engine audio, corpora
                                    without transcripts)
    user    (T, USER_DIM) float32   the listener's side: log-mel of the user's voice, their face
                                    (52 ARKit + head yaw, pitch, roll) and two presence flags
    motion  (T, MOTION_DIM) float32 52 ARKit weights then head yaw, pitch, roll in radians

Frame n's audio needs samples up to n/fps + 1/(4 fps) + 16 ms: the 2-frame look-ahead of the
streaming window covers it, so streamed and offline features are the same numbers.

The mel filterbank is built here with numpy (a few lines) rather than pulling in torchaudio or
librosa for one matrix.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from avbridge.core.audio import ANALYSIS_RATE
from avbridge.core.phonemes import Phoneme
from avbridge.core.rotation import (
    quaternion_to_yaw_pitch_roll,
    yaw_pitch_roll_to_quaternion,
)
from avbridge.core.track import Track
from avbridge.motion.visemes import VISEME_INDEX, VISEMES, viseme_of

MEL_BINS = 40
SUBFRAMES = 2
AUDIO_DIM = MEL_BINS * SUBFRAMES
WINDOW = 512
NO_TOKEN = 0
TOKEN_COUNT = 1 + len(VISEMES)
FACE_DIM = 52 + 3
USER_DIM = AUDIO_DIM + FACE_DIM + 2
MOTION_DIM = 52 + 3
HEAD = slice(52, 55)


def _mel_filterbank(bins: int = MEL_BINS, n_fft: int = WINDOW, rate: int = ANALYSIS_RATE,
                    low: float = 60.0, high: float = 7600.0) -> np.ndarray:
    """(bins, n_fft // 2 + 1) triangular filters evenly spaced on the mel scale."""
    def mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def hz(m):
        return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)

    edges = hz(np.linspace(mel(low), mel(high), bins + 2))
    freqs = np.linspace(0, rate / 2, n_fft // 2 + 1)
    bank = np.zeros((bins, len(freqs)))
    for i in range(bins):
        left, centre, right = edges[i:i + 3]
        rising = (freqs - left) / (centre - left)
        falling = (right - freqs) / (right - centre)
        bank[i] = np.maximum(0.0, np.minimum(rising, falling))
    return bank.astype(np.float32)


_FILTERS = _mel_filterbank()
_HANN = np.hanning(WINDOW).astype(np.float32)


def samples_needed(frames: int, fps: float) -> int:
    """Samples (16 kHz) of audio that the features of frames 0 .. frames-1 read."""
    return int(np.ceil(((frames - 1) / fps + 1 / (4 * fps)) * ANALYSIS_RATE)) + WINDOW // 2 + 1 if frames else 0


def audio_features(pcm: np.ndarray, first_frame: int, frames: int, fps: float,
                   pcm_offset: int = 0) -> np.ndarray:
    """Log-mel of int16 `pcm` (16 kHz; pcm[0] is sample `pcm_offset` of the utterance) for model
    frames first_frame .. first_frame + frames - 1 -> (frames, AUDIO_DIM). Samples outside `pcm`
    read as silence."""
    x = np.asarray(pcm, np.float32) / 32768.0
    centres = (np.arange(first_frame, first_frame + frames)[:, None]
               + (np.arange(SUBFRAMES) + 0.5) / SUBFRAMES - 0.5) / fps
    starts = np.round(centres.reshape(-1) * ANALYSIS_RATE).astype(np.int64) - WINDOW // 2 - pcm_offset
    index = starts[:, None] + np.arange(WINDOW)
    inside = (index >= 0) & (index < len(x))
    segments = np.where(inside, x[np.clip(index, 0, max(len(x) - 1, 0))] if len(x) else 0.0, 0.0)
    spectrum = np.abs(np.fft.rfft(segments * _HANN, axis=1)) ** 2
    mel = np.log10(spectrum @ _FILTERS.T + 1e-6)
    return mel.reshape(frames, AUDIO_DIM).astype(np.float32)


def viseme_tokens(phonemes: Sequence[Phoneme], frames: int, fps: float, offset_s: float = 0.0) -> np.ndarray:
    """(frames,) int64: the viseme token under each frame centre; NO_TOKEN outside the timeline.
    Phoneme times are seconds from frame 0 minus `offset_s`."""
    tokens = np.full(frames, NO_TOKEN, np.int64)
    t = np.arange(frames) / fps
    for p in phonemes:
        inside = (t >= p.start + offset_s) & (t < p.end + offset_s)
        tokens[inside] = 1 + VISEME_INDEX[viseme_of(p.symbol)]
    return tokens


def motion_from_track(track: Track) -> np.ndarray:
    """Track -> (T, MOTION_DIM)."""
    return np.concatenate([track.blendshapes, quaternion_to_yaw_pitch_roll(track.head[:, :4])], axis=1).astype(np.float32)


def track_from_motion(motion: np.ndarray, fps: float, start_frame: int = 0) -> Track:
    """(T, MOTION_DIM) -> Track (no translation; gaze straight ahead)."""
    t = len(motion)
    head = np.zeros((t, 7), np.float32)
    head[:, :4] = yaw_pitch_roll_to_quaternion(motion[:, 52], motion[:, 53], motion[:, 54])
    return Track(fps, np.clip(motion[:, :52], 0.0, 1.0).astype(np.float32), head,
                 np.zeros((t, 4), np.float32), start_frame)


def user_features(audio: np.ndarray | None, face: np.ndarray | None, frames: int) -> np.ndarray:
    """(frames, USER_DIM) from the user's log-mel (frames, AUDIO_DIM) and face (frames, FACE_DIM),
    either of which may be missing (its presence flag is then 0)."""
    out = np.zeros((frames, USER_DIM), np.float32)
    if audio is not None:
        out[:, :AUDIO_DIM] = audio
        out[:, -2] = 1.0
    if face is not None:
        out[:, AUDIO_DIM:AUDIO_DIM + FACE_DIM] = face
        out[:, -1] = 1.0
    return out


def resample_frames(values: np.ndarray, fps_in: float, fps_out: float, frames_out: int | None = None) -> np.ndarray:
    """Linear interpolation of (T, D) from one frame rate to another (held at the ends)."""
    if fps_in == fps_out and (frames_out is None or frames_out == len(values)):
        return values
    frames_out = frames_out if frames_out is not None else int(round(len(values) * fps_out / fps_in))
    return interpolate_rows(np.arange(frames_out) / fps_out, np.arange(len(values)) / fps_in, values).astype(values.dtype)


def interpolate_rows(t_out: np.ndarray, t_in: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(len(t_in), D) rows at times t_in -> (len(t_out), D) at t_out, linear, held at the ends."""
    return np.stack([np.interp(t_out, t_in, values[:, d]) for d in range(values.shape[1])], axis=1)
