"""Audio-driven faces against real speakers: each path's mouth and head, made from the audio
alone, scored against the face captured with that audio (docs/quality.md "Real speech").

    .venv/bin/python tools/eval_real_speech.py --neurosync DIR --beat2 DIR [--facegood DIR]
        [--paths loudness,speak_audio,speak_audio_text,telepresence] [--markdown FILE]

  --neurosync DIR  holds audio.wav and testset.csv (AnimaVR/NeuroSync_Trainer_Lite,
                   dataset/test_set/: evaluation only, never copied into the repository)
  --beat2 DIR      holds 2_scott_0_1_1.npz and .wav (RobinWitch/SynTalker, demo/examples/)
  --facegood DIR   ../shared/data/facegood (Mandarin; a weak reference)
  --transcripts F  a JSON {take name: text} for speak_audio_text (else Whisper's, when installed)

Metrics, over the frames with speech (within 35 dB of the take's loud level):
  openness r   Pearson r of mouth openness (jawOpen - mouthClose + mouthLowerDown + mouthUpperUp,
               / 3) against the reference's; BEAT2's reference is the jaw angle (no lips captured)
  jaw r        jawOpen against the reference jaw, at lag 0, and the best lag within +-200 ms
               (positive: ours comes late)
  closure F1   overlap of the frames at or below each curve's own 15th percentile of openness
               (chance about 0.15)
  head         std of yaw / pitch / roll (degrees) and angular speed p50 / p90 (deg/s, over 100 ms),
               with the variation of the speed across 1 s windows (0 when constant)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from avbridge.core.arkit import INDEX  # noqa: E402
from avbridge.core.rotation import quaternion_to_yaw_pitch_roll  # noqa: E402
from avbridge.core.track import Track  # noqa: E402
from avbridge.datasets.real_speech import RealTake, load_beat2, load_facegood, load_live_link  # noqa: E402
from avbridge.motion import MotionParams  # noqa: E402
from avbridge.motion.baselines import amplitude_baseline  # noqa: E402
from avbridge.motion.idle import IdleStream  # noqa: E402
from avbridge.motion.procedural import ProceduralGenerator  # noqa: E402
from avbridge.motion.visemes import MOUTH_CHANNELS  # noqa: E402
from avbridge.motion.metrics import (  # noqa: E402
    closure_overlap_f1,
    correlation,
    head_stats,
    lagged_correlation,
    mouth_openness,
    speech_frames,
)

PATHS = ("loudness", "speak_audio_before", "speak_audio", "speak_audio_text", "telepresence")


def load_takes(args) -> list[RealTake]:
    takes = []
    if args.neurosync:
        d = Path(args.neurosync)
        takes.append(load_live_link(d / "testset.csv", d / "audio.wav", "neurosync"))
    if args.beat2:
        d = Path(args.beat2)
        takes.append(load_beat2(d / "2_scott_0_1_1.npz", d / "2_scott_0_1_1.wav", "beat2_scott"))
    if args.facegood:
        takes.append(load_facegood(args.facegood, "1114_3_15"))
    return takes


def transcript(take: RealTake, given: dict) -> str | None:
    if take.name in given:
        return given[take.name]
    try:
        from avbridge.perception.asr import transcribe
    except ImportError:
        return None
    return transcribe(take.pcm).text


def animate(path: str, take: RealTake, text: str | None, piece_s: float = 0.1) -> Track:
    """The face a path makes from the take's audio, fed in pieces as the server feeds it."""
    frames = len(take.openness)
    if path == "loudness":
        return amplitude_baseline(take.pcm, 16000, frames, take.fps)
    piece = int(piece_s * 16000)
    pieces = [take.pcm[i:i + piece] for i in range(0, len(take.pcm), piece)]
    if path == "telepresence":
        return telepresence(take, pieces)
    generator = ProceduralGenerator()
    if path == "speak_audio_before":
        stream = generator.start(take.fps, 16000, MotionParams(), seed=1)
    else:
        stream = generator.start_heard(take.fps, 16000, MotionParams(), seed=1,
                                       text=text if path == "speak_audio_text" else None)
    tracks = [stream.push(p) for p in pieces] + [stream.finish()]
    return Track.concatenate([t for t in tracks if len(t)], take.fps)


def telepresence(take: RealTake, pieces: list[np.ndarray]) -> Track:
    """Voice-only telepresence as the server composes it: the live input's lips and head over
    the idle layer (blinks, breathing)."""
    from avbridge.live.input import LiveInput
    from avbridge.live.turns import TurnTaking
    from avbridge.motion.listening import ListeningLayer
    live = LiveInput("telepresence", take.fps, TurnTaking(), ListeningLayer(), transcripts=False, seed=1)
    mouths, heads = [], []
    for p in pieces:
        for i in range(0, len(p), 320):            # the mic's 20 ms pieces
            update = live.push_audio(p[i:i + 320])
            if len(update.mouth):
                mouths.append(update.mouth)
                heads.append(update.head)
    mouth = np.concatenate(mouths)
    base = IdleStream(take.fps, MotionParams(), seed=1).next(len(mouth))
    base.blendshapes[:, MOUTH_CHANNELS] = mouth[:, MOUTH_CHANNELS]
    base.head = np.concatenate(heads)
    return base


def score(track: Track, take: RealTake) -> dict:
    n = min(len(track), len(take.openness))
    shapes = track.blendshapes[:n]
    speech = speech_frames(take.pcm, n, take.fps)
    ours = mouth_openness(shapes)
    ref_open, ref_jaw = take.openness[:n], take.jaw[:n]
    jaw = shapes[:, INDEX["jawOpen"]].astype(np.float64)
    best_r, lag = lagged_correlation(jaw, ref_jaw, speech, int(0.2 * take.fps))
    out = {"openness_r": correlation(ours[speech], ref_open[speech]),
           "jaw_r": correlation(jaw[speech], ref_jaw[speech]),
           "best_lag_ms": 1000 * lag / take.fps, "best_r": best_r,
           "closure_f1": closure_overlap_f1(ours, ref_open, speech)}
    head = np.degrees(quaternion_to_yaw_pitch_roll(track.head[:n, :4]))
    out["head"] = head_stats(head, take.fps)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--neurosync")
    parser.add_argument("--beat2")
    parser.add_argument("--facegood")
    parser.add_argument("--transcripts")
    parser.add_argument("--paths", default=",".join(PATHS))
    parser.add_argument("--markdown", help="write the table to this file too")
    args = parser.parse_args()
    given = json.loads(Path(args.transcripts).read_text()) if args.transcripts else {}
    lines = ["| take | path | openness r | jaw r (lag 0) | best lag ms (r) | closure F1 | head std y/p/r deg | "
             "speed p50 / p90 deg/s | speed variation | seconds |", "|---|---|---|---|---|---|---|---|---|---|"]
    for take in load_takes(args):
        text = transcript(take, given) if "speak_audio_text" in args.paths and take.language == "en" else None
        if take.head_deg is not None:
            h = head_stats(take.head_deg, take.fps)
            lines.append(f"| {take.name} | the real speaker | 1 | 1 | 0 | 1 | "
                         f"{h.std_deg[0]:.1f} / {h.std_deg[1]:.1f} / {h.std_deg[2]:.1f} | "
                         f"{h.speed_p50:.1f} / {h.speed_p90:.1f} | {h.speed_variation:.2f} | |")
        for path in args.paths.split(","):
            if path == "speak_audio_text" and not text:
                continue
            started = time.perf_counter()
            s = score(animate(path, take, text), take)
            seconds = time.perf_counter() - started
            h = s["head"]
            lines.append(f"| {take.name} | {path} | {s['openness_r']:.2f} | {s['jaw_r']:.2f} | "
                         f"{s['best_lag_ms']:+.0f} ({s['best_r']:.2f}) | {s['closure_f1']:.2f} | "
                         f"{h.std_deg[0]:.1f} / {h.std_deg[1]:.1f} / {h.std_deg[2]:.1f} | "
                         f"{h.speed_p50:.1f} / {h.speed_p90:.1f} | {h.speed_variation:.2f} | {seconds:.1f} |")
            print(lines[-1], flush=True)
    table = "\n".join(lines)
    print("\n" + table)
    if args.markdown:
        Path(args.markdown).write_text(table + "\n")


if __name__ == "__main__":
    main()
