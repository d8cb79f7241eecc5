"""`avbridge inspect`: a take (or two, side by side) as a sheet of curves on one time axis.

Rows: waveform (when the take has audio), jaw and lip opening, lip shapes, smile and frown, brows,
blinks and eyelids, eye direction (eyeLook*), cheeks and nose, head angles, gaze angles. Bilabial
phonemes are shaded when the take has events.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avbridge.motion.visemes import is_bilabial, lip_gap
from avbridge.takes.read import Take

ROWS: list[tuple[str, list[str]]] = [
    ("jaw and lips apart", ["jawOpen", "mouthClose"]),
    ("lip shapes", ["mouthFunnel", "mouthPucker", "mouthRollLower", "mouthPressLeft", "mouthLowerDownLeft", "mouthUpperUpLeft"]),
    ("smile, frown, stretch", ["mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthStretchLeft", "mouthDimpleLeft"]),
    ("brows", ["browInnerUp", "browOuterUpLeft", "browDownLeft", "browDownRight"]),
    ("eyelids", ["eyeBlinkLeft", "eyeBlinkRight", "eyeSquintLeft", "eyeWideLeft"]),
    ("eye direction", ["eyeLookOutLeft", "eyeLookInLeft", "eyeLookUpLeft", "eyeLookDownLeft"]),
    ("cheeks, nose, tongue", ["cheekSquintLeft", "cheekPuff", "noseSneerLeft", "tongueOut"]),
]


def inspect_sheet(takes: list[Take], out: Path) -> Path:
    # The figure API without pyplot: no global backend is chosen and no figure is registered
    # anywhere, so drawing a take changes nothing else in the process.
    from matplotlib.figure import Figure

    has_audio = any(t.pcm is not None for t in takes)
    rows = (["audio"] if has_audio else []) + [r[0] for r in ROWS] + ["head (°)", "gaze (°)"]
    fig = Figure(figsize=(9 * len(takes), 1.55 * len(rows)))
    axes = fig.subplots(len(rows), len(takes), squeeze=False, sharex="col", sharey="row")
    for column, take in enumerate(takes):
        track = take.track
        t = (track.start_frame + np.arange(len(track))) / track.fps
        ax_iter = iter(axes[:, column])
        if has_audio:
            ax = next(ax_iter)
            if take.pcm is not None:
                ax.plot(np.arange(len(take.pcm)) / take.sample_rate, take.pcm / 32768.0, lw=0.3, color="0.3")
            ax.set_ylim(-1, 1)
        for title, channels in ROWS:
            ax = next(ax_iter)
            for name in channels:
                ax.plot(t, track.channel(name), lw=0.9, label=name)
            if title.startswith("jaw"):
                ax.plot(t, lip_gap(track.blendshapes), lw=1.1, ls="--", color="k", label="lip gap")
                for e in take.events:
                    if e.get("name") == "phoneme" and is_bilabial(e.get("phoneme", "")):
                        ax.axvspan(e["time"], e["end"], color="tab:red", alpha=0.12, lw=0)
            ax.set_ylim(0, 1)
        ax = next(ax_iter)
        euler = np.degrees(track.head_euler())
        for i, name in enumerate(("yaw", "pitch", "roll")):
            ax.plot(t, euler[:, i], lw=0.9, label=name)
        ax = next(ax_iter)
        gaze = np.degrees(track.gaze)
        ax.plot(t, gaze[:, 0], lw=0.9, label="left yaw")
        ax.plot(t, gaze[:, 1], lw=0.9, label="left pitch")
        if take.valid is not None and not take.valid.all():
            for a in axes[:, column]:
                lost = ~take.valid
                a.fill_between(t, 0, 1, where=lost, transform=a.get_xaxis_transform(), color="0.85", lw=0)
        axes[0, column].set_title(f"{take.name}: {len(track) / track.fps:.1f} s at {track.fps:g} fps", fontsize=10)
        axes[-1, column].set_xlabel("seconds")
    for row, label in enumerate(rows):
        axes[row, 0].set_ylabel(label, fontsize=8)
        if axes[row, -1].get_legend_handles_labels()[0]:
            axes[row, -1].legend(loc="upper right", fontsize=6, ncol=3)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    return out
