"""SMPTE timecode for a session: where each frame lies on the stage's clock.

A session's timeline starts at 0 when it is opened (server/session.py). A virtual-production stage
runs its own clock, the time of day its timecode generator shows; `StageClock` is the offset
between the two: the stage time (seconds since midnight) of session time 0. It starts from the
local wall clock at session open, as Live Link Face does with the phone's clock, and is set to the
stage's with `set timecode=` ("the stage reads HH:MM:SS:FF now"), or with a fixed offset where no
LTC reaches the machine. Live Link packets (adapters/livelink.py) and the CSV take files then carry
the same numbers, so a recorded take lines up frame for frame with what Unreal received.

Non-drop-frame only: 23.976 and 29.97 drop-frame counting is not done here (say 24 or 30).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

DAY_S = 24 * 3600.0
_SMPTE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})[:;](\d{2})(?:\.(\d+))?$")


class TimecodeError(ValueError):
    pass


def parse_smpte(text: str, fps: float) -> float:
    """'HH:MM:SS:FF' (or 'HH:MM:SS:FF.sub', sub a fraction of a frame) at `fps` -> seconds of the day."""
    match = _SMPTE.match(text.strip())
    if not match:
        raise TimecodeError(f"timecode {text!r} is not HH:MM:SS:FF")
    hours, minutes, seconds, frames = (int(g) for g in match.groups()[:4])
    if hours >= 24 or minutes >= 60 or seconds >= 60 or frames >= round(fps):
        raise TimecodeError(f"timecode {text!r} is out of range at {fps:g} fps")
    sub = float("0." + match.group(5)) if match.group(5) else 0.0
    return hours * 3600 + minutes * 60 + seconds + (frames + sub) / fps


def smpte(seconds: float, fps: float) -> str:
    """Seconds of the day -> 'HH:MM:SS:FF' at a whole `fps` (wrapping at midnight)."""
    rate = int(round(fps))
    total = int(math.floor(seconds % DAY_S * rate + 1e-6))      # whole frames since midnight
    whole_s, frame = divmod(total, rate)
    return f"{whole_s // 3600 % 24:02d}:{whole_s // 60 % 60:02d}:{whole_s % 60:02d}:{frame:02d}"


def wall_clock_seconds() -> float:
    """The local time of day, in seconds since midnight."""
    now = time.time()
    local = time.localtime(now)
    return local.tm_hour * 3600 + local.tm_min * 60 + local.tm_sec + (now % 1.0)


@dataclass
class StageClock:
    """Stage time = session time + `offset_s` (seconds of the day at session time 0)."""
    offset_s: float

    @classmethod
    def from_wall_clock(cls, session_now: float) -> StageClock:
        return cls(wall_clock_seconds() - session_now)

    def set(self, text: str, fps: float, session_now: float) -> None:
        """The stage reads `text` at `session_now` on the session's timeline."""
        self.offset_s = parse_smpte(text, fps) - session_now

    def stage_seconds(self, session_time: float) -> float:
        return (session_time + self.offset_s) % DAY_S

    def frame_time(self, session_time: float, fps: float) -> tuple[int, float]:
        """(frame number since midnight, sub-frame in [0, 1)) at `fps`: Live Link's frame time."""
        frames = self.stage_seconds(session_time) * fps
        whole = int(frames + 1e-6)
        return whole, max(0.0, frames - whole)
