"""A Live Link Face take (the iPhone app's CSV, and the take's audio) as a training clip.

The CSV is read by `avbridge.takes.livelink_csv.read_csv` (30 or 60 fps from its timecodes; tracking-loss
rows kept as invalid frames, which teach nothing). The audio is a wav, or the take's .mov/.mp4
(the app records one beside the CSV with the same name). Alignment: when the audio file carries
a start timecode (the app's .mov has one), frame 0 of the CSV lies at CSV start - audio start
into the audio; a file without one is taken to start at the CSV's first frame. Head rotation
counts as measured only when the take has any (head tracking can be off in the app: then the
Head* columns are all zero).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avbridge.core.audio import ANALYSIS_RATE
from avbridge.datasets.corpus import Clip, DatasetError
from avbridge.datasets.media import fit_length, read_audio
from avbridge.motion.flow.features import HEAD, MOTION_DIM, motion_from_track
from avbridge.takes.livelink_csv import read_csv

AUDIO_SUFFIXES = (".wav", ".mov", ".mp4", ".m4a")
MAX_MISSING_AUDIO_S = 0.5


def find_audio(csv_path: Path) -> Path:
    for suffix in AUDIO_SUFFIXES:
        candidate = csv_path.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    raise DatasetError(f"{csv_path}: no audio beside it ({', '.join(csv_path.stem + s for s in AUDIO_SUFFIXES)}); "
                       "name the audio after a comma: livelink:TAKE.csv,TAKE.wav")


def load_take(csv_path: str | Path, audio_path: str | Path | None = None) -> Clip:
    csv_path = Path(csv_path)
    take = read_csv(csv_path)
    audio = read_audio(Path(audio_path) if audio_path else find_audio(csv_path))
    motion = motion_from_track(take.track)
    frames = len(motion)
    offset_s = take.start_seconds - audio.start_timecode if audio.start_timecode is not None else 0.0
    first = int(round(offset_s * ANALYSIS_RATE))
    pcm = audio.pcm[first:] if first >= 0 else np.concatenate([np.zeros(-first, np.int16), audio.pcm])
    wanted = int(round(frames / take.fps * ANALYSIS_RATE))
    if len(pcm) < wanted - MAX_MISSING_AUDIO_S * ANALYSIS_RATE:
        raise DatasetError(f"{csv_path}: the audio covers {len(pcm) / ANALYSIS_RATE:.2f} s of the take's "
                           f"{frames / take.fps:.2f} s (audio offset {offset_s:+.3f} s)")
    pcm = fit_length(pcm, wanted)
    measured = np.zeros(MOTION_DIM, bool)
    measured[:52] = True
    measured[HEAD] = bool(np.abs(motion[take.valid][:, HEAD]).max() > 1e-6) if take.valid.any() else False
    return Clip(f"livelink_{csv_path.stem}", "livelink", take.fps, motion, measured, take.valid.copy(), pcm, None,
                {"csv": str(csv_path), "audio_offset_s": round(offset_s, 4),
                 "tracking_lost_frames": int((~take.valid).sum())})
