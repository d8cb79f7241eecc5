"""Reading Live Link Face CSV takes (the iPhone app's recordings, and avbridge's own track.csv).

Layout, as the app writes it: `Timecode,BlendShapeCount,` then 52 blendshapes in Live Link Face's
order (`avbridge.core.arkit.LIVE_LINK_FACE_ORDER`, UpperCamel names), then HeadYaw, HeadPitch, HeadRoll
and yaw/pitch/roll of each eye. Details handled here:

- the count column is spelled BlendShapeCount or BlendshapeCount;
- Timecode is HH:MM:SS:FF.mmm on a 60 fps base, and some takes step FF by 2 (30 fps): the rate is
  read from the timecodes;
- a tracking-loss row has only its timecode and a 0; those frames are marked invalid and filled
  by linear interpolation between the valid frames around them (held at the ends).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avbridge.core.arkit import (
    ARKIT_BLENDSHAPES,
    LIVE_LINK_FACE_EXTRA_COLUMNS,
    LIVE_LINK_FACE_ORDER,
    upper_camel,
)
from avbridge.core.rotation import yaw_pitch_roll_to_quaternion
from avbridge.core.track import Track


class TakeError(ValueError):
    """A file that is not a readable Live Link Face take; the message says where and why."""


@dataclass
class LiveLinkTake:
    track: Track
    valid: np.ndarray          # (T,) bool: False where the phone lost the face
    start_seconds: float       # the first timecode, in seconds of the day
    path: Path

    @property
    def fps(self) -> float:
        return self.track.fps


def parse_timecode(text: str) -> float:
    """'HH:MM:SS:FF.mmm' (FF in 60ths of a second) -> seconds."""
    try:
        hours, minutes, seconds, frames = text.strip().split(":")
        return int(hours) * 3600 + int(minutes) * 60 + int(seconds) + float(frames) / 60.0
    except ValueError:
        raise ValueError(f"timecode {text!r} is not HH:MM:SS:FF.mmm") from None


def read_csv(path: str | Path) -> LiveLinkTake:
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as exc:
        raise TakeError(f"{path}: cannot read ({exc})") from None
    if not rows:
        raise TakeError(f"{path}: empty file")
    header = [h.strip() for h in rows[0]]
    if len(header) < 2 or header[0].lower() != "timecode" or header[1].lower() != "blendshapecount":
        raise TakeError(f"{path}: line 1 must start with Timecode,BlendShapeCount (found {','.join(header[:2])!r})")
    columns = {name.lower(): i for i, name in enumerate(header)}
    missing = [upper_camel(n) for n in LIVE_LINK_FACE_ORDER if n.lower() not in columns]
    if missing:
        raise TakeError(f"{path}: line 1 lacks {len(missing)} blendshape column(s): {', '.join(missing[:6])}"
                        + ("..." if len(missing) > 6 else ""))
    shape_columns = [columns[n.lower()] for n in ARKIT_BLENDSHAPES]
    extra_columns = [columns.get(n.lower()) for n in LIVE_LINK_FACE_EXTRA_COLUMNS]
    times, values, valid = [], [], []
    for line_number, row in enumerate(rows[1:], start=2):
        if not row or not any(cell.strip() for cell in row):
            continue
        try:
            times.append(parse_timecode(row[0]))
        except ValueError as exc:
            raise TakeError(f"{path}: line {line_number}: {exc}") from None
        if len(row) <= 2:           # tracking lost: timecode and a 0
            values.append(np.full(52 + 9, np.nan))
            valid.append(False)
            continue
        if len(row) < len(header):
            raise TakeError(f"{path}: line {line_number} has {len(row)} fields; the header has {len(header)}")
        try:
            shapes = [float(row[i]) for i in shape_columns]
            extra = [float(row[i]) if i is not None else 0.0 for i in extra_columns]
        except ValueError:
            raise TakeError(f"{path}: line {line_number} has a value that is not a number") from None
        values.append(np.array(shapes + extra))
        valid.append(True)
    if not any(valid):
        raise TakeError(f"{path}: no frame with tracking data")
    times_arr = np.array(times)
    steps = np.diff(times_arr)
    step = float(np.median(steps[steps > 0])) if np.any(steps > 0) else 1 / 60
    fps = 60.0 if step < 1.5 / 60 else 30.0 if step < 1.5 / 30 else round(1 / step, 3)
    data = fill_gaps(np.array(values), np.array(valid))
    shapes = np.clip(data[:, :52], 0.0, 1.0).astype(np.float32)
    head_yaw, head_pitch, head_roll = data[:, 52], data[:, 53], data[:, 54]
    head = np.zeros((len(data), 7), np.float32)
    head[:, :4] = yaw_pitch_roll_to_quaternion(head_yaw, head_pitch, head_roll)
    gaze = data[:, [55, 56, 58, 59]].astype(np.float32)
    return LiveLinkTake(Track(fps, shapes, head, gaze), np.array(valid), float(times_arr[0]), path)


def fill_gaps(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Linear interpolation over invalid rows, column by column; held flat before the first and
    after the last valid row."""
    index = np.arange(len(values))
    good = np.flatnonzero(valid)
    filled = values.copy()
    for column in range(values.shape[1]):
        filled[:, column] = np.interp(index, good, values[good, column])
    return filled
