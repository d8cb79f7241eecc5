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
import struct
import time
from pathlib import Path

import numpy as np

from avbridge.adapters.livelink import frame_values
from avbridge.core.arkit import LIVE_LINK_FACE_EXTRA_COLUMNS, LIVE_LINK_FACE_ORDER, upper_camel
from avbridge.core.audio import write_wav
from avbridge.core.track import Track



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
    values = frame_values(track.blendshapes, track.head, track.gaze)     # the packet's 61, in its order
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for n in range(len(track)):
            writer.writerow([timecode(stage_start_s + (track.start_frame + n) / track.fps), 61,
                             *(f"{v:.6f}" for v in values[n])])


def write_timecoded_wav(path: Path, pcm: np.ndarray, sample_rate: int, stage_start_s: float,
                        description: str = "") -> None:
    """A Broadcast Wave file (EBU Tech 3285, version 1): the PCM with a `bext` chunk whose
    TimeReference is the stage time of its first sample, in samples since midnight. DAWs, editors
    and Unreal's Sequencer place such a file on the timeline at its timecode, beside the
    track.csv and the Live Link packets that carry the same clock (adapters/timecode.py).

    Written by hand (struct): the chunk is fixed-size fields, and the wave module cannot add one."""
    data = np.asarray(pcm, "<i2").tobytes()
    reference = int(round(stage_start_s * sample_rate))
    bext = b"".join([
        description.encode("ascii", "replace")[:256].ljust(256, b"\0"),   # Description
        b"avbridge".ljust(32, b"\0"),                                      # Originator
        b"".ljust(32, b"\0"),                                              # OriginatorReference
        time.strftime("%Y-%m-%d").encode(), time.strftime("%H:%M:%S").encode(),  # OriginationDate, Time
        struct.pack("<IIH", reference & 0xFFFFFFFF, reference >> 32, 1),  # TimeReference low, high; Version 1
        bytes(64 + 190)])                                                 # UMID, Reserved
    fmt = struct.pack("<HHIIHH", 1, 1, int(sample_rate), int(sample_rate) * 2, 2, 16)
    chunks = b"".join(name + struct.pack("<I", len(body)) + body + b"\0" * (len(body) % 2)
                      for name, body in ((b"bext", bext), (b"fmt ", fmt), (b"data", data)))
    Path(path).write_bytes(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks)


def bwf_time_reference(path: Path) -> int:
    """The bext TimeReference (samples since midnight) of a Broadcast Wave file; 0 without one."""
    raw = Path(path).read_bytes()
    at = 12
    while at + 8 <= len(raw):
        name, size = raw[at:at + 4], struct.unpack("<I", raw[at + 4:at + 8])[0]
        if name == b"bext":
            low, high = struct.unpack("<II", raw[at + 8 + 338:at + 8 + 346])
            return low | high << 32
        at += 8 + size + size % 2
    return 0


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
