"""Phoneme (IPA) -> viseme -> ARKit mouth shape.

Visemes are the 15 classes used widely in real-time lip sync (sil, PP, FF, TH, DD, kk, CH, SS, nn,
RR, aa, E, I, O, U). Each is a target pose over the ARKit mouth, jaw and tongue channels, tuned so
that `lip_gap` (below) is near zero for PP and clearly open for vowels: lips pressed and rolled
with the chin raised (mouthShrugLower) on p/b/m, the lower lip rolled in and raised to the upper
teeth on f/v, the tongue between the teeth on th, rounding on o/u/w, spread on ee and s.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from avbridge.core.arkit import INDEX
from avbridge.perception.viseme_net import VisemeNet, shipped_net

VISEMES = ("sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "I", "O", "U")
VISEME_INDEX = {v: i for i, v in enumerate(VISEMES)}

_PHONEME_TO_VISEME = {
    "p": "PP", "b": "PP", "m": "PP", "ɓ": "PP", "ɸ": "PP", "β": "PP",
    "f": "FF", "v": "FF", "ɱ": "FF", "ʋ": "FF",
    "θ": "TH", "ð": "TH",
    "t": "DD", "d": "DD", "d͡ʒ": "CH", "t͡ʃ": "CH", "t͡ɕ": "CH", "t͡ɕʰ": "CH", "ɾ": "DD", "ʈ": "DD", "ɖ": "DD", "ʔ": "DD",
    "k": "kk", "g": "kk", "ɡ": "kk", "ŋ": "kk", "x": "kk", "ɣ": "kk", "h": "kk", "q": "kk", "χ": "kk",
    "ʃ": "CH", "ʒ": "CH", "tʃ": "CH", "dʒ": "CH", "ʧ": "CH", "ʤ": "CH", "ɕ": "CH", "ʑ": "CH", "ç": "CH",
    "s": "SS", "z": "SS", "ts": "SS", "dz": "SS",
    "n": "nn", "l": "nn", "ɫ": "nn", "ɲ": "nn", "ʎ": "nn", "j": "I",
    "ɹ": "RR", "r": "RR", "ɚ": "RR", "ɝ": "RR", "ɻ": "RR", "ʁ": "RR", "ɐ˞": "RR",
    "a": "aa", "ɑ": "aa", "æ": "aa", "ʌ": "aa", "ɐ": "aa", "ä": "aa", "ɶ": "aa", "ɒ": "O",
    "e": "E", "ɛ": "E", "ə": "E", "ɜ": "E", "ɘ": "E", "œ": "E", "ø": "E",
    "i": "I", "ɪ": "I", "ᵻ": "I", "ɨ": "I", "y": "U", "ʏ": "U",
    "o": "O", "ɔ": "O", "ɵ": "O", "ɤ": "O",
    "u": "U", "ʊ": "U", "w": "U", "ʍ": "U", "ʉ": "U", "ɯ": "U", "ɥ": "U",
}

_TARGETS: dict[str, dict[str, float]] = {
    "sil": {"jawOpen": 0.02, "mouthClose": 0.01},
    "PP": {"jawOpen": 0.05, "mouthClose": 0.05, "mouthPressLeft": 0.22, "mouthPressRight": 0.22,
           "mouthRollLower": 0.12, "mouthRollUpper": 0.08, "mouthShrugLower": 0.18},
    "FF": {"jawOpen": 0.08, "mouthRollLower": 0.5, "mouthUpperUpLeft": 0.3, "mouthUpperUpRight": 0.3,
           "mouthFunnel": 0.05, "mouthShrugLower": 0.25},
    "TH": {"jawOpen": 0.14, "tongueOut": 0.35, "mouthUpperUpLeft": 0.12, "mouthUpperUpRight": 0.12},
    "DD": {"jawOpen": 0.18, "mouthStretchLeft": 0.08, "mouthStretchRight": 0.08,
           "mouthLowerDownLeft": 0.1, "mouthLowerDownRight": 0.1},
    "kk": {"jawOpen": 0.22, "mouthStretchLeft": 0.1, "mouthStretchRight": 0.1,
           "mouthLowerDownLeft": 0.08, "mouthLowerDownRight": 0.08},
    "CH": {"jawOpen": 0.12, "mouthFunnel": 0.45, "mouthPucker": 0.25, "mouthUpperUpLeft": 0.15,
           "mouthUpperUpRight": 0.15, "mouthLowerDownLeft": 0.15, "mouthLowerDownRight": 0.15,
           "mouthShrugUpper": 0.15},
    "SS": {"jawOpen": 0.06, "mouthStretchLeft": 0.3, "mouthStretchRight": 0.3, "mouthSmileLeft": 0.1,
           "mouthSmileRight": 0.1, "mouthUpperUpLeft": 0.1, "mouthUpperUpRight": 0.1,
           "mouthLowerDownLeft": 0.1, "mouthLowerDownRight": 0.1},
    "nn": {"jawOpen": 0.14, "mouthLowerDownLeft": 0.05, "mouthLowerDownRight": 0.05},
    "RR": {"jawOpen": 0.15, "mouthFunnel": 0.3, "mouthPucker": 0.3},
    "aa": {"jawOpen": 0.68, "mouthLowerDownLeft": 0.38, "mouthLowerDownRight": 0.38,
           "mouthUpperUpLeft": 0.18, "mouthUpperUpRight": 0.18},
    "E": {"jawOpen": 0.4, "mouthStretchLeft": 0.28, "mouthStretchRight": 0.28, "mouthSmileLeft": 0.12,
          "mouthSmileRight": 0.12, "mouthLowerDownLeft": 0.25, "mouthLowerDownRight": 0.25,
          "mouthUpperUpLeft": 0.1, "mouthUpperUpRight": 0.1},
    "I": {"jawOpen": 0.22, "mouthStretchLeft": 0.35, "mouthStretchRight": 0.35, "mouthSmileLeft": 0.28,
          "mouthSmileRight": 0.28, "mouthUpperUpLeft": 0.08, "mouthUpperUpRight": 0.08},
    "O": {"jawOpen": 0.46, "mouthFunnel": 0.55, "mouthPucker": 0.25, "mouthLowerDownLeft": 0.15,
          "mouthLowerDownRight": 0.15},
    "U": {"jawOpen": 0.15, "mouthPucker": 0.7, "mouthFunnel": 0.35},
}

VISEME_POSES = np.zeros((len(VISEMES), 52), np.float32)
"""(15, 52): the ARKit pose of each viseme."""
for _v, _pose in _TARGETS.items():
    for _name, _w in _pose.items():
        VISEME_POSES[VISEME_INDEX[_v], INDEX[_name]] = _w

MOUTH_CHANNELS = np.flatnonzero(VISEME_POSES.any(axis=0))
"""Indices of the channels any viseme moves."""

BILABIAL_VISEME = VISEME_INDEX["PP"]


def viseme_of(phoneme: str) -> str:
    """The viseme for an IPA phoneme; multi-letter symbols fall back to their first known letter."""
    if phoneme in _PHONEME_TO_VISEME:
        return _PHONEME_TO_VISEME[phoneme]
    if phoneme == "_" or not phoneme.strip():
        return "sil"
    for ch in phoneme:
        if ch in _PHONEME_TO_VISEME:
            return _PHONEME_TO_VISEME[ch]
    return "E" if phoneme[:1].isalpha() else "sil"  # an unknown letter: a neutral, half-open vowel


def is_bilabial(phoneme: str) -> bool:
    return viseme_of(phoneme) == "PP"


_J, _C = INDEX["jawOpen"], INDEX["mouthClose"]
_LOWER_DOWN = [INDEX["mouthLowerDownLeft"], INDEX["mouthLowerDownRight"]]
_UPPER_UP = [INDEX["mouthUpperUpLeft"], INDEX["mouthUpperUpRight"]]
_FUNNEL = INDEX["mouthFunnel"]


def lip_gap(blendshapes: np.ndarray) -> np.ndarray:
    """(T, 52) -> (T,) how far apart the lips are, in rough jawOpen units.

    In ARKit, mouthClose closes the lips against an open jaw, so the lip opening the jaw makes is
    jawOpen - mouthClose; mouthLowerDown, mouthUpperUp and mouthFunnel part the lips on their own,
    at about half the effect of the jaw at equal weight. Lips count as closed below 0.06: the
    resting jaw (0.02 to 0.05) with no lip-parting shapes.
    """
    b = np.asarray(blendshapes)
    partings = b[:, _LOWER_DOWN].mean(axis=1) + b[:, _UPPER_UP].mean(axis=1) + b[:, _FUNNEL]
    return np.maximum(b[:, _J] - b[:, _C], 0.0) + 0.5 * partings


LIPS_CLOSED_BELOW = 0.06


@lru_cache(maxsize=1)
def viseme_recogniser() -> VisemeNet:
    """The shipped viseme recogniser (perception/viseme_net.py), checked to name its outputs in
    VISEMES order: its posteriors index VISEME_POSES directly, so a checkpoint trained on another
    class order would move every mouth wrongly without an error."""
    return in_viseme_order(shipped_net())


def in_viseme_order(net: VisemeNet) -> VisemeNet:
    if net.classes != VISEMES:
        raise ValueError(f"the viseme recogniser's classes {net.classes} are not {VISEMES}")
    return net
