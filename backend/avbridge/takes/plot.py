"""A one-page PNG of a take: waveform, mouth and jaw, eyes, head angles on one time axis, with the
bilabial phonemes shaded so lip closure can be checked by eye."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avbridge.core.track import Track
from avbridge.motion.visemes import LIPS_CLOSED_BELOW, is_bilabial, lip_gap


def plot_take(path: Path, pcm: np.ndarray, sample_rate: int, track: Track, events: list[dict],
              start: float = 0.0, title: str = "") -> None:
    # The figure API without pyplot: no global backend is chosen and no figure is registered
    # anywhere, so drawing a take changes nothing else in the process.
    from matplotlib.figure import Figure

    t_audio = np.arange(len(pcm)) / sample_rate
    t = (track.start_frame + np.arange(len(track))) / track.fps
    fig = Figure(figsize=(14, 9))
    axes = fig.subplots(4, 1, sharex=True, gridspec_kw={"height_ratios": [1, 1.6, 0.9, 1.1]})
    wave_ax, mouth_ax, eye_ax, head_ax = axes
    wave_ax.plot(t_audio, np.asarray(pcm, np.float32) / 32768.0, lw=0.4, color="0.3")
    wave_ax.set_ylabel("speech")
    for word in (e for e in events if e.get("name") == "word"):
        wave_ax.text(word["time"] - start, 0.85, word.get("text", ""), fontsize=7, va="top")
    for ph in (e for e in events if e.get("name") == "phoneme" and is_bilabial(e.get("phoneme", ""))):
        mouth_ax.axvspan(ph["time"] - start, ph["end"] - start, color="tab:red", alpha=0.15, lw=0)
    for name, color in (("jawOpen", "tab:blue"), ("mouthClose", "tab:orange"), ("mouthFunnel", "tab:green"),
                        ("mouthPucker", "tab:purple"), ("mouthStretchLeft", "tab:brown")):
        mouth_ax.plot(t, track.channel(name), label=name, lw=1, color=color)
    mouth_ax.plot(t, lip_gap(track.blendshapes), label="lip gap", lw=1.4, color="k", ls="--")
    mouth_ax.axhline(LIPS_CLOSED_BELOW, color="tab:red", lw=0.6, ls=":")
    mouth_ax.set_ylabel("mouth")
    mouth_ax.legend(loc="upper right", fontsize=7, ncol=6)
    eye_ax.plot(t, track.channel("eyeBlinkLeft"), label="eyeBlinkLeft", lw=1)
    eye_ax.plot(t, np.degrees(track.gaze[:, 0]) / 10, label="gaze yaw (10°)", lw=1)
    eye_ax.plot(t, track.channel("browInnerUp"), label="browInnerUp", lw=1)
    eye_ax.set_ylabel("eyes, brows")
    eye_ax.legend(loc="upper right", fontsize=7, ncol=3)
    euler = np.degrees(track.head_euler())
    for i, name in enumerate(("yaw", "pitch", "roll")):
        head_ax.plot(t, euler[:, i], label=name, lw=1)
    head_ax.set_ylabel("head (°)")
    head_ax.set_xlabel("seconds from utterance start")
    head_ax.legend(loc="upper right", fontsize=7, ncol=3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
