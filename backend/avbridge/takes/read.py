"""A take on disk: a track with, when there is one, its audio and events.

Accepted: a folder written by `avbridge say` / `avbridge demo` (track.csv, speech.wav, events.jsonl),
or any Live Link Face CSV (with a .wav of the same name beside it, if there is one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from avbridge.core.audio import read_wav
from avbridge.core.track import Track
from avbridge.takes.livelink_csv import read_csv


@dataclass
class Take:
    name: str
    track: Track
    pcm: np.ndarray | None = None
    sample_rate: int = 0
    events: list[dict] = field(default_factory=list)
    valid: np.ndarray | None = None


def load_take(path: str | Path) -> Take:
    path = Path(path)
    if path.is_dir():
        csv_path, wav_path, events_path = path / "track.csv", path / "speech.wav", path / "events.jsonl"
        if not csv_path.exists():
            raise FileNotFoundError(f"{path} has no track.csv (expected a folder written by `avbridge say`)")
    else:
        csv_path, wav_path, events_path = path, path.with_suffix(".wav"), path.with_suffix(".jsonl")
        if not csv_path.exists():
            raise FileNotFoundError(f"no such take: {path}")
    take = read_csv(csv_path)
    result = Take(path.name if path.is_dir() else path.stem, take.track, valid=take.valid)
    if wav_path.exists():
        pcm, result.sample_rate = read_wav(wav_path)
        result.pcm = pcm if pcm.ndim == 1 else pcm[:, 0].copy()
    if events_path.exists():
        result.events = [json.loads(line) for line in events_path.read_text().splitlines() if line.strip()]
    return result
