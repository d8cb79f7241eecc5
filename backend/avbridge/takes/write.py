"""speech.wav, track.csv (Live Link Face layout), events.jsonl for one utterance.

The CSV has Live Link Face's header and column order (Timecode, BlendShapeCount, 52 blendshapes in
its order, then HeadYaw/Pitch/Roll and the eyes' yaw/pitch/roll), so tools that import Live Link
Face takes read it. Head and eye angles are in radians; eye roll is always 0. Timecode is
HH:MM:SS:FF.mmm on a 60 fps base from the start of the utterance.
"""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import numpy as np

from avbridge.core.arkit import (
    ARKIT_BLENDSHAPES,
    LIVE_LINK_FACE_EXTRA_COLUMNS,
    LIVE_LINK_FACE_ORDER,
    upper_camel,
)
from avbridge.core.audio import write_wav
from avbridge.core.track import Track

_LLF_COLUMN_INDEX = [ARKIT_BLENDSHAPES.index(name) for name in LIVE_LINK_FACE_ORDER]


def timecode(seconds: float) -> str:
    """Live Link Face timecode: HH:MM:SS:FF.mmm, FF counting 60ths of a second."""
    sixtieths = seconds * 60.0
    whole = int(np.floor(sixtieths + 1e-6))
    fraction = max(0.0, sixtieths - whole)
    ff = whole % 60
    total_s = whole // 60
    return f"{total_s // 3600 % 24:02d}:{total_s // 60 % 60:02d}:{total_s % 60:02d}:{ff:02d}.{int(fraction * 1000):03d}"


def write_csv(path: Path, track: Track, stage_start_s: float = 0.0) -> None:
    """`stage_start_s`: the stage time (seconds of the day, adapters/timecode.py) of the track's
    frame 0; by default timecodes count from the start of the utterance."""
    header = ["Timecode", "BlendShapeCount", *(upper_camel(n) for n in LIVE_LINK_FACE_ORDER),
              *LIVE_LINK_FACE_EXTRA_COLUMNS]
    euler = track.head_euler()
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for n in range(len(track)):
            shapes = track.blendshapes[n, _LLF_COLUMN_INDEX]
            left_yaw, left_pitch, right_yaw, right_pitch = track.gaze[n]
            extra = [*euler[n], left_yaw, left_pitch, 0.0, right_yaw, right_pitch, 0.0]
            writer.writerow([timecode(stage_start_s + (track.start_frame + n) / track.fps), 61,
                             *(f"{v:.6f}" for v in shapes), *(f"{v:.6f}" for v in extra)])


def write_events(path: Path, events: list[dict], start: float = 0.0) -> None:
    """One JSON object a line; `time` and `end` relative to the utterance start."""
    with open(path, "w") as f:
        for event in events:
            row = dict(event)
            for key in ("time", "end"):
                if key in row:
                    row[key] = round(row[key] - start, 6)
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_take(out_dir: Path, pcm: np.ndarray, sample_rate: int, track: Track, events: list[dict],
               start: float = 0.0, title: str = "") -> dict[str, Path]:
    """Write speech.wav, track.csv, events.jsonl and (with matplotlib, the preview extra) plot.png
    into `out_dir`; return the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"wav": out_dir / "speech.wav", "csv": out_dir / "track.csv", "events": out_dir / "events.jsonl"}
    write_wav(paths["wav"], pcm, sample_rate)
    write_csv(paths["csv"], track)
    write_events(paths["events"], events, start)
    if importlib.util.find_spec("matplotlib") is not None:
        from avbridge.takes.plot import plot_take
        paths["plot"] = out_dir / "plot.png"
        plot_take(paths["plot"], pcm, sample_rate, track, events, start, title)
    return paths
