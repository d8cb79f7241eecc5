"""The mouth from a phoneme timeline and loudness (or, without a timeline, from audio alone).

Shapes: T frames at times t (seconds into the chunk) -> (T, 52) poses over the mouth channels.

With a timeline:
  1. targets: each phoneme's viseme pose, box-filtered over the frame (so a phoneme shorter than a
     frame still counts), sampled ANTICIPATION_S ahead: lips shape a sound before it is heard (but
     hold the last sound before a pause to its end);
  2. coarticulation: a rounded vowel (o, u, w...) rounds the consonants before it (up to 180 ms
     ahead) and, more weakly, after it; consonants between two open vowels keep some jaw opening;
  3. strength: opening scales with loudness and shrinks with a faster speaking rate;
  4. zero-phase smoothing (forward and backward one-pole): no lag;
  5. every bilabial (p, b, m) forced shut for at least one frame, at its own time (not
     anticipated: the closure is what makes the sound).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from avbridge.core.arkit import INDEX
from avbridge.core.phonemes import Phoneme
from avbridge.core.signal import one_pole
from avbridge.motion.visemes import (
    MOUTH_CHANNELS,
    VISEME_INDEX,
    VISEME_POSES,
    is_bilabial,
    viseme_of,
)
from avbridge.speech.timeline import PAUSE

ANTICIPATION_S = 0.035
SMOOTHING_S = 0.028          # fast enough for 10-15 phonemes a second
# Heard phones (motion/heard.py) are less sure than an engine's: their opening leans on loudness
# more (chosen on BEAT2, docs/quality.md "Real speech"), so a phone heard wrongly in a quiet
# stretch opens little.
HEARD_GAIN = (0.0, 1.3)
# The mouth from heard viseme posteriors (perception/viseme_net.py): their blend of poses, opened
# with loudness (0.3 + 1.0 * sqrt(loudness)). On engine audio the mouth takes this share of its
# shape from the posteriors and the rest from the phones heard (hama hears fewer phones, and
# spans them less well); the phones' closures are still shut. Chosen on BEAT2 and neurosync
# (docs/quality.md "Real speech").
POSTERIOR_GAIN = (0.3, 1.0)
POSTERIOR_SHARE = 0.7
NOISE_GATE = 0.06            # audio-only path: loudness (relative to speech) treated as silence
_SUBSAMPLES = 4
_ROUND_AHEAD_S = 0.18
_ROUNDED = {VISEME_INDEX["U"], VISEME_INDEX["O"]}
_OPEN_VOWELS = {VISEME_INDEX["aa"], VISEME_INDEX["E"], VISEME_INDEX["O"]}
_CONSONANTS = {VISEME_INDEX[v] for v in ("DD", "kk", "SS", "nn", "TH", "RR", "CH")}
_ROUNDING = [INDEX["mouthPucker"], INDEX["mouthFunnel"]]
_JAW, _CLOSE = INDEX["jawOpen"], INDEX["mouthClose"]
_PRESS = [INDEX["mouthPressLeft"], INDEX["mouthPressRight"]]
_PP_POSE = VISEME_POSES[VISEME_INDEX["PP"]]
SIL_POSE = VISEME_POSES[VISEME_INDEX["sil"]]


def speaking_rate_gain(phonemes: Sequence[Phoneme]) -> float:
    """Faster speech is articulated less: 1.15 at 8 phonemes a second, 0.85 at 18."""
    spoken = [p for p in phonemes if p.symbol != PAUSE]
    seconds = sum(p.end - p.start for p in spoken)
    rate = len(spoken) / seconds if seconds > 0 else 12.0
    return float(np.clip(1.15 - 0.03 * (rate - 8.0), 0.85, 1.15))


def posterior_targets(posteriors: np.ndarray, loud: np.ndarray) -> np.ndarray:
    """(T, 52) mouth targets from (T, 15) viseme posteriors (in VISEMES order) and loudness (T,)."""
    shape = np.asarray(posteriors, np.float32) @ VISEME_POSES
    gain = np.clip(POSTERIOR_GAIN[0] + POSTERIOR_GAIN[1] * np.sqrt(np.clip(loud, 0, None)), 0.0, 1.3)
    return SIL_POSE[None, :] + (shape - SIL_POSE[None, :]) * gain[:, None]


def mouth_from_phonemes(phonemes: Sequence[Phoneme], t: np.ndarray, loud: np.ndarray, previous: np.ndarray,
                        fps: float, articulation: float, heard: bool = False,
                        posteriors: np.ndarray | None = None) -> np.ndarray:
    starts = np.array([p.start for p in phonemes])
    visemes = np.array([VISEME_INDEX[viseme_of(p.symbol)] for p in phonemes])
    visemes = _coarticulate(phonemes, visemes)
    offsets = ((np.arange(_SUBSAMPLES) + 0.5) / _SUBSAMPLES - 0.5) / fps
    sub_t = t[:, None] + offsets[None, :]
    now = np.clip(np.searchsorted(starts, sub_t, side="right") - 1, 0, len(phonemes) - 1)
    ahead = np.clip(np.searchsorted(starts, sub_t + ANTICIPATION_S, side="right") - 1, 0, len(phonemes) - 1)
    # Lips move toward the next sound early, but a speaker holds the last sound of a phrase to its
    # end: never anticipate a pause.
    silent = VISEME_INDEX["sil"]
    which = np.where((visemes[ahead] == silent) & (visemes[now] != silent), now, ahead)
    targets = VISEME_POSES[visemes[which]].mean(axis=1)                      # (T, 52)
    targets = _spread_rounding(targets, phonemes, visemes, t + ANTICIPATION_S)
    if heard:
        gain = np.clip(HEARD_GAIN[0] + HEARD_GAIN[1] * np.sqrt(loud), 0.0, 1.3) * articulation * speaking_rate_gain(phonemes)
    else:
        gain = np.clip(0.55 + 0.6 * np.sqrt(loud), 0.4, 1.3) * articulation * speaking_rate_gain(phonemes)
    opening = np.ones(52, np.float32)
    opening[_PRESS] = 0.0
    targets = targets * (1 + (gain[:, None] - 1) * opening[None, :])
    if posteriors is not None:
        # Heard phones with the viseme recogniser's posteriors at each frame (T, 15): their
        # shapes blended before smoothing; the phones' closures are then shut as always.
        heard_shape = posterior_targets(posteriors, loud) * articulation
        targets = targets.copy()
        targets[:, MOUTH_CHANNELS] = ((1 - POSTERIOR_SHARE) * targets[:, MOUTH_CHANNELS]
                                      + POSTERIOR_SHARE * heard_shape[:, MOUTH_CHANNELS])
    mouth = zero_phase_smooth(targets, previous, SMOOTHING_S * fps)
    close_bilabials(mouth, phonemes, t, fps)
    return mouth


def _coarticulate(phonemes: Sequence[Phoneme], visemes: np.ndarray) -> np.ndarray:
    """Visemes after context: an "h" takes the shape of the vowel after it (it has none of its own)."""
    out = visemes.copy()
    for i, p in enumerate(phonemes[:-1]):
        if p.symbol == "h" and visemes[i + 1] not in (VISEME_INDEX["sil"],):
            out[i] = visemes[i + 1]
    return out


def _spread_rounding(targets: np.ndarray, phonemes: Sequence[Phoneme], visemes: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Anticipatory and carry-over lip rounding onto neighbouring consonants."""
    for i, v in enumerate(visemes):
        if v not in _ROUNDED:
            continue
        pose = VISEME_POSES[v][_ROUNDING]
        onset, offset = phonemes[i].start, phonemes[i].end
        # consonants before the vowel, back to the previous vowel or pause, within the window
        j = i - 1
        while j >= 0 and visemes[j] in _CONSONANTS and onset - phonemes[j].start <= _ROUND_AHEAD_S:
            inside = (t >= phonemes[j].start) & (t < phonemes[j].end)
            weight = 0.7 * (1 - (onset - phonemes[j].start) / _ROUND_AHEAD_S) + 0.2
            targets[np.ix_(inside, np.asarray(_ROUNDING))] = np.maximum(targets[np.ix_(inside, np.asarray(_ROUNDING))], weight * pose)
            j -= 1
        if i + 1 < len(visemes) and visemes[i + 1] in _CONSONANTS:
            inside = (t >= offset) & (t < phonemes[i + 1].end)
            targets[np.ix_(inside, np.asarray(_ROUNDING))] = np.maximum(targets[np.ix_(inside, np.asarray(_ROUNDING))], 0.35 * pose)
    # a consonant between two open vowels keeps part of the jaw opening
    for i in range(1, len(visemes) - 1):
        if visemes[i] in _CONSONANTS and visemes[i - 1] in _OPEN_VOWELS and visemes[i + 1] in _OPEN_VOWELS:
            inside = (t >= phonemes[i].start) & (t < phonemes[i].end)
            jaw = 0.5 * (VISEME_POSES[visemes[i - 1], _JAW] + VISEME_POSES[visemes[i + 1], _JAW])
            targets[inside, _JAW] = np.maximum(targets[inside, _JAW], 0.6 * jaw)
    return targets


def mouth_from_audio(pcm: np.ndarray, sample_rate: int, centres: np.ndarray, loud: np.ndarray, previous: np.ndarray,
                     fps: float, articulation: float) -> np.ndarray:
    """Engine-supplied speech without a timeline: `audio_mouth_targets`, smoothed causally (this
    runs on audio as it arrives, where the future is not known yet)."""
    targets = audio_mouth_targets(pcm, sample_rate, centres, loud, fps)
    return one_pole(targets * articulation, previous, SMOOTHING_S * 1.5 * fps)


def audio_mouth_targets(pcm: np.ndarray, sample_rate: int, centres: np.ndarray, loud: np.ndarray,
                        fps: float) -> np.ndarray:
    """(T, 52) mouth poses from audio alone: opening from loudness, a crude spectral shape from the
    zero-crossing rate (sibilants spread, low voiced sounds round)."""
    x = pcm.astype(np.float32)
    half = max(1, int(sample_rate / fps))
    centres = np.clip(centres, 0, max(len(x) - 1, 0))
    crossings = np.concatenate([[0], np.cumsum(np.abs(np.diff(np.sign(x))) > 0)]) if len(x) else np.zeros(1)
    lo = np.clip(centres - half, 0, len(crossings) - 1)
    hi = np.clip(centres + half, 0, len(crossings) - 1)
    zcr = (crossings[hi] - crossings[lo]) / np.maximum(hi - lo, 1)
    # Room noise and breath sit below a few percent of the speech level: gate them out, or the mouth
    # hangs open in the pauses of real recordings.
    loud = np.clip((loud - NOISE_GATE) / (1 - NOISE_GATE), 0, None)
    voiced = loud > 0
    sibilance = np.clip((zcr - 0.12) / 0.2, 0, 1) * voiced
    rounding = np.clip((0.06 - zcr) / 0.06, 0, 1) * np.clip(loud, 0, 1)
    open_amount = np.clip(loud, 0, 1.2) ** 0.8 * (1 - 0.6 * sibilance)
    return (SIL_POSE[None, :]
            + open_amount[:, None] * (VISEME_POSES[VISEME_INDEX["aa"]] - SIL_POSE)[None, :] * 0.8
            + sibilance[:, None] * VISEME_POSES[VISEME_INDEX["SS"]][None, :] * 0.6
            + rounding[:, None] * VISEME_POSES[VISEME_INDEX["O"]][None, :] * 0.3)


def zero_phase_smooth(targets: np.ndarray, initial: np.ndarray, tau_frames: float) -> np.ndarray:
    """One-pole low-pass forward then backward: no lag. Starts from `initial` (the last frame
    already sent) so consecutive chunks join without a step."""
    forward = one_pole(targets, initial, tau_frames)
    backward = one_pole(forward[::-1], forward[-1], tau_frames)[::-1]
    ramp = np.clip(np.arange(len(targets)) / 3.0, 0, 1)[:, None]   # the first frames continue `initial`
    return forward * (1 - ramp) + backward * ramp


def close_bilabials(mouth: np.ndarray, phonemes: Sequence[Phoneme], t: np.ndarray, fps: float) -> None:
    """Shut the lips on every p, b, m: fully in the middle of the phoneme (always at least the frame
    nearest its centre), easing over one frame on each side."""
    if len(t) == 0:
        return
    frame = 1.0 / fps
    for p in phonemes:
        if not is_bilabial(p.symbol):
            continue
        margin = 0.2 * (p.end - p.start)
        lo, hi = p.start + margin, p.end - margin
        centre = 0.5 * (p.start + p.end)
        weight = np.clip(1.0 - np.maximum(lo - t, t - hi).clip(0) / frame, 0, 1)
        nearest = int(np.argmin(np.abs(t - centre)))
        if abs(t[nearest] - centre) <= frame:
            weight[nearest] = 1.0
        for i in np.flatnonzero(weight > 0):
            w = weight[i]
            closed = mouth[i] * (1 - w) + _PP_POSE * w
            jaw = min(mouth[i, _JAW], _PP_POSE[_JAW] + 0.03) if w >= 1 else closed[_JAW]
            closed[_JAW] = jaw
            if w >= 1:
                closed[_CLOSE] = jaw
            mouth[i, MOUTH_CHANNELS] = closed[MOUTH_CHANNELS]
