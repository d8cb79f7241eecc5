"""Real speech paired with real face motion, for evaluating audio-driven animation
(tools/eval_real_speech.py, docs/quality.md "Real speech").

Each loader gives a `RealTake`: 16 kHz audio and, at the capture's own frame rate, the reference
mouth openness and jaw, and the head angles where the capture has them. Mouth openness follows
the review's definition: (jawOpen - mouthClose + mouthLowerDown + mouthUpperUp) / 3, left and
right averaged (`mouth_openness` in motion/metrics.py).

Sources (none of them is copied into the repository by this module; pass their paths):
  Live Link Face CSV + wav  e.g. AnimaVR/NeuroSync_Trainer_Lite `dataset/test_set/` (evaluation
                            only: its licence is revenue-gated). ARKit from the phone, head pose.
  BEAT2 SMPL-X npz + wav    e.g. RobinWitch/SynTalker `demo/examples/2_scott_0_1_1` (BEAT2 is
                            Apache-2.0). The jaw joint's opening angle is the mouth (the capture
                            has no lips), neck + head joints the head.
  FACEGOOD take             ../shared/data/facegood (Mandarin). A weak reference: its early data
                            was TTS animated by hand.

Shapes: pcm (N,) int16 at 16 kHz; openness, jaw (T,); head_deg (T, 3) yaw, pitch, roll in
degrees or None; frame n at n / fps seconds from pcm[0].
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avbridge.core.arkit import INDEX
from avbridge.core.audio import read_wav_mono, to_analysis_rate
from avbridge.core.rotation import quaternion_to_yaw_pitch_roll
from avbridge.motion.metrics import mouth_openness

_JAW_JOINT, _NECK_JOINT, _HEAD_JOINT = 22, 12, 15      # SMPL-X body joints


@dataclass
class RealTake:
    name: str
    language: str
    pcm: np.ndarray
    fps: float
    openness: np.ndarray
    jaw: np.ndarray
    head_deg: np.ndarray | None
    mouth: str                 # what the reference mouth is: "arkit" (lips and jaw) or "jaw" (jaw only)


def _audio(path: str | Path) -> np.ndarray:
    pcm, rate = read_wav_mono(path)
    return to_analysis_rate(pcm, rate)


def _trim(take: RealTake) -> RealTake:
    """Cut the reference and the audio to the shorter of the two."""
    frames = min(len(take.openness), int(len(take.pcm) / 16000 * take.fps))
    take.openness, take.jaw = take.openness[:frames], take.jaw[:frames]
    if take.head_deg is not None:
        take.head_deg = take.head_deg[:frames]
    take.pcm = take.pcm[:int(np.ceil(frames / take.fps * 16000))]
    return take


def load_live_link(csv_path: str | Path, wav_path: str | Path, name: str | None = None,
                   language: str = "en") -> RealTake:
    from avbridge.takes.livelink_csv import read_csv
    take = read_csv(csv_path)
    shapes = take.track.blendshapes
    head = np.degrees(quaternion_to_yaw_pitch_roll(take.track.head[:, :4]))
    moving = head.std(axis=0).max() > 1e-3
    return _trim(RealTake(name or Path(csv_path).stem, language, _audio(wav_path), take.fps,
                          mouth_openness(shapes), shapes[:, INDEX["jawOpen"]].astype(np.float64),
                          head if moving else None, "arkit"))


def load_beat2(npz_path: str | Path, wav_path: str | Path, name: str | None = None) -> RealTake:
    from scipy.spatial.transform import Rotation
    data = np.load(npz_path, allow_pickle=True)
    poses = np.asarray(data["poses"], np.float64).reshape(len(data["poses"]), -1, 3)
    fps = float(data["mocap_frame_rate"]) if "mocap_frame_rate" in data else 30.0
    jaw = Rotation.from_rotvec(poses[:, _JAW_JOINT]).as_rotvec()
    opening = np.degrees(jaw[:, 0])            # about the x (left-right) axis: the chin drops
    head = Rotation.from_rotvec(poses[:, _NECK_JOINT]) * Rotation.from_rotvec(poses[:, _HEAD_JOINT])
    # SMPL-X: y up, z forward; yaw about y, pitch about x, roll about z, from the take's mean pose.
    mean = head.mean()
    angles = np.degrees((mean.inv() * head).as_euler("YXZ"))
    return _trim(RealTake(name or Path(npz_path).stem, "en", _audio(wav_path), fps,
                          opening, opening, angles[:, [0, 1, 2]], "jaw"))


def load_facegood(folder: str | Path, take: str) -> RealTake:
    from avbridge.datasets.facegood import load_take
    folder = Path(folder)
    t = load_take(folder / "bs_value" / f"bs_value_{take}.npy", folder / "wav" / f"{take}.wav",
                  folder / "shirley_1119_bs_name.npy")
    shapes = t.track.blendshapes
    return _trim(RealTake(f"facegood_{take}", "zh", to_analysis_rate(t.pcm, t.sample_rate), t.track.fps,
                          mouth_openness(shapes), shapes[:, INDEX["jawOpen"]].astype(np.float64), None, "arkit"))
