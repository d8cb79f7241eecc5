"""A training corpus: clips of speech with the face that said it, whatever they were captured with.

Every importer (facegood.py, livelink_take.py, video.py, synthetic.py) makes `Clip`s; `save` and
`load` keep a corpus as a folder of .npz files and a manifest.json, so an expensive import (face
tracking a video) runs once.

Shapes (T frames at `fps`, N samples at 16 kHz):
    motion    (T, MOTION_DIM) float32  52 ARKit weights, head yaw/pitch/roll (radians)
    measured  (MOTION_DIM,) bool       channels the capture really measured (facegood has no head)
    valid     (T,) bool                False where tracking was lost (those frames teach nothing)
    pcm       (N,) int16               the speech, 16 kHz mono, sample 0 at frame 0
    phonemes  list[Phoneme] or None    a timeline in seconds from frame 0, when one is known
    user_pcm  (N,) int16 or None       in a conversation: the other person's voice, same clock
    user_face (T, FACE_DIM) or None    and their face (52 ARKit + head yaw/pitch/roll)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from avbridge.core.phonemes import Phoneme
from avbridge.motion.flow.features import FACE_DIM, MOTION_DIM

CORPUS_VERSION = 1


class DatasetError(ValueError):
    """Input that cannot become training data; the message names the file and the reason."""


@dataclass
class Clip:
    name: str
    source: str
    fps: float
    motion: np.ndarray
    measured: np.ndarray
    valid: np.ndarray
    pcm: np.ndarray
    phonemes: list[Phoneme] | None = None
    meta: dict = field(default_factory=dict)
    user_pcm: np.ndarray | None = None
    user_face: np.ndarray | None = None

    def __post_init__(self) -> None:
        t = len(self.motion)
        if self.motion.shape != (t, MOTION_DIM) or self.valid.shape != (t,) or self.measured.shape != (MOTION_DIM,):
            raise DatasetError(f"clip {self.name}: shapes motion {self.motion.shape}, valid {self.valid.shape}, "
                               f"measured {self.measured.shape}; want (T, {MOTION_DIM}), (T,), ({MOTION_DIM},)")
        if self.user_face is not None and self.user_face.shape != (t, FACE_DIM):
            raise DatasetError(f"clip {self.name}: user_face {self.user_face.shape}; want ({t}, {FACE_DIM})")

    @property
    def seconds(self) -> float:
        return len(self.motion) / self.fps


def save(clips: list[Clip], folder: str | Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    entries: list[dict] = []
    manifest = {"corpus_version": CORPUS_VERSION, "clips": entries}
    for clip in clips:
        file = f"{clip.name}.npz"
        arrays = {"motion": clip.motion, "measured": clip.measured, "valid": clip.valid, "pcm": clip.pcm}
        if clip.phonemes is not None:
            arrays["phoneme_symbols"] = np.array([p.symbol for p in clip.phonemes])
            arrays["phoneme_times"] = np.array([(p.start, p.end) for p in clip.phonemes], np.float64).reshape(-1, 2)
        for name in ("user_pcm", "user_face"):
            if getattr(clip, name) is not None:
                arrays[name] = getattr(clip, name)
        np.savez_compressed(folder / file, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as bool
        entries.append({"name": clip.name, "source": clip.source, "fps": clip.fps, "file": file,
                                  "frames": len(clip.motion), "seconds": round(clip.seconds, 3), "meta": clip.meta})
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return folder


def load(folder: str | Path) -> list[Clip]:
    folder = Path(folder)
    path = folder / "manifest.json"
    if not path.is_file():
        raise DatasetError(f"{folder}: not a corpus (no manifest.json); build one with `avbridge dataset`")
    manifest = json.loads(path.read_text())
    if manifest.get("corpus_version") != CORPUS_VERSION:
        raise DatasetError(f"{path}: corpus version {manifest.get('corpus_version')}; this avbridge reads {CORPUS_VERSION}")
    clips = []
    for entry in manifest["clips"]:
        with np.load(folder / entry["file"]) as data:
            phonemes = None
            if "phoneme_symbols" in data:
                phonemes = [Phoneme(str(s), float(a), float(b))
                            for s, (a, b) in zip(data["phoneme_symbols"], data["phoneme_times"])]
            clips.append(Clip(entry["name"], entry["source"], float(entry["fps"]), data["motion"],
                              data["measured"], data["valid"], data["pcm"], phonemes, entry.get("meta", {}),
                              data["user_pcm"] if "user_pcm" in data else None,
                              data["user_face"] if "user_face" in data else None))
    return clips
