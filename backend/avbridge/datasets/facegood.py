"""The FACEGOOD paired corpus (speech + solved face animation) as ARKit tracks.

Files (../shared/data/facegood, see its README): `wav/<take>.wav` (16 kHz mono), `bs_value/
bs_value_<take>.npy` (frames x 116 float64 at 30 fps, frame-exact with the audio) and the control
names in `shirley_1119_bs_name.npy` (116 names; Python 2 pickles, read with encoding latin1).

The value columns are one position off the name list: value column i holds the control named
names[i - 1], and column 0 is always 0. Read literally, every left/right pair of controls is
uncorrelated (pucker_l with pucker_r: r = 0.00); shifted by one, every pair moves together
(r = 1.00), and mouth_stretch_c, FACS's jaw-dropping mouth stretch, is the control that follows
the speech envelope (r = 0.66). `load_take` does not trust either reading: it picks the offset
under which the left/right pairs agree (`column_offset`).

The mapping onto ARKit (`FACEGOOD_TO_ARKIT`) follows the FACS meaning of each control: e.g.
mouth_lipCornerPull -> mouthSmile, mouth_lowerLipDepress -> mouthLowerDown, mouth_suck_d ->
mouthRollLower, tooth_d_d (lower teeth down) and mouth_stretch_c -> jawOpen, mouth_oo_c ->
mostly mouthPucker, mouth_oh_c -> mostly mouthFunnel with some jaw. Only about 21 controls move
in this corpus; the rest are mapped for completeness. Tongue controls have no ARKit counterpart
but tongueOut and are dropped.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avbridge.core.arkit import INDEX
from avbridge.core.audio import WavError, read_wav, to_analysis_rate
from avbridge.core.track import Track
from avbridge.datasets.corpus import Clip, DatasetError
from avbridge.motion.flow.features import MOTION_DIM, motion_from_track

__all__ = ["DatasetError", "FacegoodTake", "clips", "load_take"]

FPS = 30.0

# FACEGOOD control -> [(ARKit channel, weight)]; an ARKit weight is the clamped sum of its sources.
FACEGOOD_TO_ARKIT: dict[str, list[tuple[str, float]]] = {
    "tooth_d_d": [("jawOpen", 1.0)],
    "mouth_stretch_c": [("jawOpen", 1.0)],
    "mouth_oh_c": [("mouthFunnel", 0.7), ("jawOpen", 0.3)],
    "mouth_oo_c": [("mouthPucker", 0.8), ("mouthFunnel", 0.3)],
    "mouth_chinRaise_u": [("mouthShrugLower", 1.0)],
    "mouth_chinRaise_d": [("mouthShrugLower", 0.5)],
    "mouth_funnel_ul": [("mouthFunnel", 0.25)], "mouth_funnel_ur": [("mouthFunnel", 0.25)],
    "mouth_funnel_dl": [("mouthFunnel", 0.25)], "mouth_funnel_dr": [("mouthFunnel", 0.25)],
    "mouth_pucker_l": [("mouthPucker", 0.5)], "mouth_pucker_r": [("mouthPucker", 0.5)],
    "mouth_press_l": [("mouthPressLeft", 1.0)], "mouth_press_r": [("mouthPressRight", 1.0)],
    "mouth_pressFix_c": [("mouthClose", 1.0)],
    "mouth_lipCornerPull_l": [("mouthSmileLeft", 1.0)], "mouth_lipCornerPull_r": [("mouthSmileRight", 1.0)],
    "mouth_lipCornerPullOpen_l": [("mouthSmileLeft", 0.6)], "mouth_lipCornerPullOpen_r": [("mouthSmileRight", 0.6)],
    "mouth_lipCornerDepress_l": [("mouthFrownLeft", 1.0)], "mouth_lipCornerDepress_r": [("mouthFrownRight", 1.0)],
    "mouth_lipStretch_l": [("mouthStretchLeft", 1.0)], "mouth_lipStretch_r": [("mouthStretchRight", 1.0)],
    "mouth_lipStretchOpen_l": [("mouthStretchLeft", 0.6)], "mouth_lipStretchOpen_r": [("mouthStretchRight", 0.6)],
    "mouth_lowerLipDepress_l": [("mouthLowerDownLeft", 1.0)], "mouth_lowerLipDepress_r": [("mouthLowerDownRight", 1.0)],
    "mouth_upperLipRaise_l": [("mouthUpperUpLeft", 1.0)], "mouth_upperLipRaise_r": [("mouthUpperUpRight", 1.0)],
    "mouth_suck_dl": [("mouthRollLower", 0.5)], "mouth_suck_dr": [("mouthRollLower", 0.5)],
    "mouth_suck_ul": [("mouthRollUpper", 0.5)], "mouth_suck_ur": [("mouthRollUpper", 0.5)],
    "mouth_lowerLipProtrude_c": [("mouthShrugLower", 0.5)],
    "mouth_dimple_l": [("mouthDimpleLeft", 1.0)], "mouth_dimple_r": [("mouthDimpleRight", 1.0)],
    "mouth_sideways_l": [("mouthLeft", 1.0)], "mouth_sideways_r": [("mouthRight", 1.0)],
    "jaw_sideways_l": [("jawLeft", 1.0)], "jaw_sideways_r": [("jawRight", 1.0)],
    "jaw_thrust_c": [("jawForward", 1.0)],
    "cheek_puff_l": [("cheekPuff", 0.5)], "cheek_puff_r": [("cheekPuff", 0.5)],
    "cheek_raise_l": [("cheekSquintLeft", 1.0)], "cheek_raise_r": [("cheekSquintRight", 1.0)],
    "nose_wrinkle_l": [("noseSneerLeft", 1.0)], "nose_wrinkle_r": [("noseSneerRight", 1.0)],
    "brow_raise_c": [("browInnerUp", 1.0)],
    "brow_raise_l": [("browOuterUpLeft", 1.0)], "brow_raise_r": [("browOuterUpRight", 1.0)],
    "brow_lower_l": [("browDownLeft", 1.0)], "brow_lower_r": [("browDownRight", 1.0)],
    "eye_blink1_l": [("eyeBlinkLeft", 1.0)], "eye_blink1_r": [("eyeBlinkRight", 1.0)],
    "eye_lidTight_l": [("eyeSquintLeft", 1.0)], "eye_lidTight_r": [("eyeSquintRight", 1.0)],
    "eye_upperLidRaise_l": [("eyeWideLeft", 1.0)], "eye_upperLidRaise_r": [("eyeWideRight", 1.0)],
    "eye_lookUp_l": [("eyeLookUpLeft", 1.0)], "eye_lookUp_r": [("eyeLookUpRight", 1.0)],
    "eye_lookDown1_l": [("eyeLookDownLeft", 1.0)], "eye_lookDown1_r": [("eyeLookDownRight", 1.0)],
    # The subject's left eye looking to her left is outward; her right eye looking left is inward.
    "eye_lookLeft_l": [("eyeLookOutLeft", 1.0)], "eye_lookRight_l": [("eyeLookInLeft", 1.0)],
    "eye_lookLeft_r": [("eyeLookInRight", 1.0)], "eye_lookRight_r": [("eyeLookOutRight", 1.0)],
}
_PAIRS = [("mouth_pucker_l", "mouth_pucker_r"), ("mouth_funnel_dl", "mouth_funnel_dr"),
          ("mouth_lipStretch_l", "mouth_lipStretch_r"), ("mouth_upperLipRaise_l", "mouth_upperLipRaise_r"),
          ("mouth_lowerLipDepress_l", "mouth_lowerLipDepress_r"), ("mouth_press_l", "mouth_press_r"),
          ("mouth_lipCornerPull_l", "mouth_lipCornerPull_r"), ("eye_blink1_l", "eye_blink1_r")]



@dataclass
class FacegoodTake:
    name: str
    track: Track              # ARKit, 30 fps; head and gaze at rest (the corpus has none)
    pcm: np.ndarray           # (N,) int16
    sample_rate: int
    column_offset: int


def _load_npy(path: str | Path) -> np.ndarray:
    # The corpus was written by Python 2; numpy reads it with encoding latin1 and warns that the
    # format is old. The warning says nothing about this data, so it is silenced here only.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.load(path, allow_pickle=True, encoding="latin1")


def load_names(path: str | Path) -> list[str]:
    return [str(n) for n in _load_npy(path)]


def column_offset(values: np.ndarray, names: list[str]) -> int:
    """0 or 1: the offset of value columns against names under which left/right controls agree."""
    best, best_score = 0, -np.inf
    for offset in (0, 1):
        scores = []
        for left, right in _PAIRS:
            i, j = names.index(left) + offset, names.index(right) + offset
            if j >= values.shape[1]:
                continue
            a, b = values[:, i], values[:, j]
            if a.std() > 1e-6 and b.std() > 1e-6:
                scores.append(np.corrcoef(a, b)[0, 1])
            elif a.std() > 1e-6 or b.std() > 1e-6:
                scores.append(-1.0)           # one side moves, its twin never does: not a pair
        score = float(np.mean(scores)) if scores else -np.inf
        if score > best_score:
            best, best_score = offset, score
    return best


def to_arkit(values: np.ndarray, names: list[str], offset: int) -> np.ndarray:
    """(T, 116) FACEGOOD controls -> (T, 52) ARKit weights in [0, 1]."""
    out = np.zeros((len(values), 52), np.float64)
    for name, targets in FACEGOOD_TO_ARKIT.items():
        column = names.index(name) + offset
        if column >= values.shape[1]:
            continue
        for channel, weight in targets:
            out[:, INDEX[channel]] += weight * values[:, column]
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def load_take(values_path: str | Path, wav_path: str | Path, names_path: str | Path) -> FacegoodTake:
    values_path, wav_path = Path(values_path), Path(wav_path)
    names = load_names(names_path)
    try:
        values = _load_npy(values_path).astype(np.float64)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{values_path}: not a FACEGOOD value array ({exc})") from None
    if values.ndim != 2 or values.shape[1] != len(names):
        raise DatasetError(f"{values_path}: shape {values.shape}; expected (frames, {len(names)})")
    try:
        pcm, rate = read_wav(wav_path)
    except WavError as exc:
        raise DatasetError(str(exc)) from None
    if pcm.ndim != 1:
        raise DatasetError(f"{wav_path}: expected 16-bit mono audio")
    audio_frames = len(pcm) / rate * FPS
    if abs(audio_frames - len(values)) > 2:
        raise DatasetError(f"{values_path}: {len(values)} frames but the audio lasts {audio_frames:.1f} frames at 30 fps")
    offset = column_offset(values, names)
    shapes = to_arkit(values, names, offset)
    head = np.zeros((len(shapes), 7), np.float32)
    head[:, 3] = 1.0
    track = Track(FPS, shapes, head, np.zeros((len(shapes), 4), np.float32))
    return FacegoodTake(values_path.stem.replace("bs_value_", ""), track, pcm, rate, offset)


MEASURED = np.zeros(MOTION_DIM, bool)
"""The ARKit channels the FACEGOOD rig drives (no head: the corpus has none)."""
for _targets in FACEGOOD_TO_ARKIT.values():
    for _channel, _ in _targets:
        MEASURED[INDEX[_channel]] = True


def clips(folder: str | Path) -> list[Clip]:
    """Every take in a FACEGOOD folder (wav/, bs_value/, shirley_1119_bs_name.npy) as a Clip."""
    folder = Path(folder)
    names = folder / "shirley_1119_bs_name.npy"
    values = sorted((folder / "bs_value").glob("bs_value_*.npy"))
    if not names.is_file() or not values:
        raise DatasetError(f"{folder}: not a FACEGOOD folder (want shirley_1119_bs_name.npy and bs_value/bs_value_*.npy)")
    out = []
    for path in values:
        take_name = path.stem.replace("bs_value_", "")
        take = load_take(path, folder / "wav" / f"{take_name}.wav", names)
        motion = motion_from_track(take.track)
        pcm = to_analysis_rate(take.pcm, take.sample_rate)
        frames = min(len(motion), int(len(pcm) / 16000 * FPS))
        out.append(Clip(f"facegood_{take_name}", "facegood", FPS, motion[:frames], MEASURED.copy(),
                        np.ones(frames, bool), pcm, None, {"column_offset": take.column_offset}))
    return out
