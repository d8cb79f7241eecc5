"""A take on disk: a track with, when there is one, its audio and events.

Accepted: a folder written by `avbridge say` / `avbridge demo` (track.csv, speech.wav, events.jsonl),
or any Live Link Face CSV (with a .wav of the same name beside it, if there is one).
"""

from __future__ import annotations

import json
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from avbridge.livelink import read_csv
from avbridge.track import Track


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
        with wave.open(str(wav_path)) as w:
            result.sample_rate = w.getframerate()
            audio = np.frombuffer(w.readframes(w.getnframes()), "<i2")
            result.pcm = audio.reshape(-1, w.getnchannels())[:, 0].copy()
    if events_path.exists():
        result.events = [json.loads(line) for line in events_path.read_text().splitlines() if line.strip()]
    return result
