"""The portrait renderer: speed on one core and closed-loop accuracy, direct and through the bank.

    python tools/bench_portrait.py [IMAGE ...]

Speed: ms a frame at the photo's size (512x512 for the astronaut) with one thread for OpenCV and
BLAS, beside a baseline measured in the same run (one full-frame cv2.remap, the least any warp
renderer must do), and the bank's start-up. Closed loop: MediaPipe reads jawOpen, the blinks and
the head's yaw and pitch back from rendered frames; r against what was commanded (sweeps for jaw
and head, blink pulses as a stream has them). Identity: the neutral frame against the photo
(PSNR, SSIM) and the largest change outside the face's box while the head turns.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import platform
import time
from pathlib import Path

import cv2
import numpy as np
from avbridge.core.arkit import INDEX
from avbridge.render.portrait import PortraitDecoder, fit_portrait
from avbridge.render.portrait.bank import FrameBank
from avbridge.render.portrait.fit import crop_to_face, load_image
from avbridge.render.portrait.landmarks import FaceFinder
from scipy.spatial.transform import Rotation

BLINKS = [0, 0, 1, 0, 0.5, 1, 0, 1, 0, 0]


def timed(fn, frames: list[np.ndarray], repeats: int = 3) -> float:
    fn(frames[0])
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        for f in frames:
            fn(f)
        best = min(best, (time.perf_counter() - t) / len(frames))
    return best * 1000


def closed_loop(render, finder: FaceFinder, rest: np.ndarray, base: tuple[float, float]) -> dict[str, float]:
    out = {}
    jaw = np.linspace(0, 1, 6)
    read = []
    for v in jaw:
        f = rest.copy()
        f[INDEX["jawOpen"]] = v
        read.append(finder.find(render(f)).weights[INDEX["jawOpen"]])
    out["jawOpen"] = float(np.corrcoef(jaw, read)[0, 1])
    for name in ("eyeBlinkLeft", "eyeBlinkRight"):
        read = []
        for v in BLINKS:
            f = rest.copy()
            f[INDEX[name]] = v
            read.append(finder.find(render(f)).weights[INDEX[name]])
        out[name] = float(np.corrcoef(BLINKS, read)[0, 1])
    angles = np.linspace(-18, 18, 7)
    for axis, which in (("y", 0), ("x", 1)):
        read = []
        for a in angles:
            f = rest.copy()
            f[52:56] = Rotation.from_euler(axis, a, degrees=True).as_quat()
            read.append(finder.find(render(f)).yaw_pitch_degrees[which] - base[which])
        out["yaw" if axis == "y" else "pitch"] = float(np.corrcoef(angles, read)[0, 1])
    return out


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="*")
    parser.add_argument("--crop", action="store_true", help="crop each photo to a square around its face first")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    photos: list[tuple[str, np.ndarray]] = []
    if args.images:
        photos = [(Path(p).name, load_image(Path(p).read_bytes(), 2048 if args.crop else 512)) for p in args.images]
    else:
        from skimage import data
        photos = [("astronaut (skimage, NASA, public domain)", data.astronaut())]
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; one thread for OpenCV and BLAS")
    finder = FaceFinder()
    if args.crop:
        photos = [(name, crop_to_face(rgb, finder)) for name, rgb in photos]
    rng = np.random.default_rng(0)
    for name, rgb in photos:
        report(name, rgb, finder, rng)
    first_video(photos[0][1])


def first_video(rgb: np.ndarray, lines: int = 6) -> None:
    """Time from `say` to the first `video` frame at a client, beside the first `frames` message
    of the same lines: what the portrait adds to a line's start (in-process server, espeak)."""
    import io

    import zmq
    from avbridge.client import Client
    from avbridge.server.config import ServerConfig
    from avbridge.server.transport import Server
    from PIL import Image

    server = Server(ServerConfig(endpoint="tcp://127.0.0.1:0", mirror_endpoint=None, voice="espeak"), context=zmq.Context()).start()
    png = io.BytesIO()
    Image.fromarray(rgb).save(png, format="PNG")
    firsts: dict[str, list[float]] = {"frames, no portrait (baseline)": [], "frames": [], "video": []}
    try:
        with Client(server.endpoint, timeout=30) as client:
            for k in range(2 * lines):
                # A session a line: on one session, each line would wait for the last to play out.
                session = client.open(realtime=True, idle=False)
                plain = k % 2 == 0
                if not plain:
                    session.portrait(png.getvalue())
                t0 = time.monotonic()
                utterance = session.say_async(f"Line number {k + 1}: the market opens at dawn.")
                seen: dict[str, float] = {}
                for message, arrived in session.stream(utterance, timeout=30):
                    kind = "frames, no portrait (baseline)" if plain and message.type == "frames" else message.type
                    if kind in firsts and kind not in seen:
                        seen[kind] = arrived - t0
                for kind, at in seen.items():
                    firsts[kind].append(at * 1000)
                session.close()
    finally:
        server.stop()
    print(f"\n| at the client, after `say` ({lines} lines each, realtime sessions) | p50 ms | max ms |")
    print("|---|---|---|")
    for kind, values in firsts.items():
        print(f"| first {kind} | {np.nanmedian(values):.1f} | {np.nanmax(values):.1f} |")


def report(name: str, rgb: np.ndarray, finder: FaceFinder, rng: np.random.Generator) -> None:
    t = time.perf_counter()
    decoder = PortraitDecoder(fit_portrait(rgb, finder))
    fit_ms = (time.perf_counter() - t) * 1000
    bank = FrameBank(decoder)
    rest = decoder.rest_frame()
    frames = []
    for _ in range(30):   # speech-like frames: jaw, smile, blinks, a small turn
        f = rest.copy()
        f[INDEX["jawOpen"]] = rng.uniform(0, 0.6)
        f[INDEX["mouthSmileLeft"]] = f[INDEX["mouthSmileRight"]] = rng.uniform(0, 0.3)
        f[INDEX["eyeBlinkLeft"]] = f[INDEX["eyeBlinkRight"]] = float(rng.random() < 0.1)
        f[52:56] = Rotation.from_euler("yx", rng.uniform(-8, 8, 2), degrees=True).as_quat()
        frames.append(f)
    h, w = rgb.shape[:2]
    mx, my = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    baseline = timed(lambda f: cv2.remap(rgb, mx, my, cv2.INTER_LINEAR), frames)
    direct = timed(decoder.render, frames)
    blend = timed(lambda f: bank.render(f, "blend"), frames)
    flow = timed(lambda f: bank.render(f, "flow"), frames)
    print(f"\n### {name}: {w}x{h}, face {decoder.portrait.face_width:.0f} px wide, fit {fit_ms:.0f} ms "
          f"(landmark residual {decoder.portrait.fit_residual_px:.2f} px)\n")
    print("| path | ms a frame | frames/s | x the baseline | start-up |")
    print("|---|---|---|---|---|")
    print(f"| baseline: one full-frame cv2.remap | {baseline:.2f} | {1000 / baseline:.0f} | 1.0 | |")
    print(f"| direct decoding | {direct:.2f} | {1000 / direct:.0f} | {direct / baseline:.1f} | {fit_ms:.0f} ms fit |")
    print(f"| bank, blend of 2 keys | {blend:.2f} | {1000 / blend:.0f} | {blend / baseline:.1f} | "
          f"{bank.build_seconds:.2f} s for {len(bank.keys)} keys, {bank.nbytes / 1e6:.1f} MB |")
    print(f"| bank, DIS flow between 2 keys | {flow:.2f} | {1000 / flow:.0f} | {flow / baseline:.1f} | same keys |")
    base = finder.find(rgb).yaw_pitch_degrees
    print("\n| path | jawOpen r | eyeBlinkLeft r | eyeBlinkRight r | yaw r | pitch r | mean abs diff from direct (grey levels) |")
    print("|---|---|---|---|---|---|---|")
    for label, render in (("direct", decoder.render), ("bank, blend", lambda f: bank.render(f, "blend")),
                          ("bank, flow", lambda f: bank.render(f, "flow"))):
        r = closed_loop(render, finder, rest, base)
        diff = np.mean([np.abs(render(f).astype(int) - decoder.render(f).astype(int)).mean() for f in frames[:10]])
        print(f"| {label} | {r['jawOpen']:.3f} | {r['eyeBlinkLeft']:.3f} | {r['eyeBlinkRight']:.3f} | {r['yaw']:.3f} | "
              f"{r['pitch']:.3f} | {diff:.2f} |")
    turned = rest.copy()
    turned[52:56] = Rotation.from_euler("yx", [15, 8], degrees=True).as_quat()
    image = decoder.render(turned)
    x0, y0, x1, y1 = decoder.warp.box
    outside = np.ones(rgb.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    from skimage.metrics import structural_similarity
    background = decoder.masks.background > 0.99
    clear = int(0.25 * decoder.portrait.face_width) | 1                               # a quarter face width
    away = cv2.erode(background.astype(np.uint8), np.ones((clear, clear), np.uint8)) > 0
    neutral = decoder.render(rest)
    print(f"\nneutral frame vs photo: PSNR {psnr(neutral, rgb):.1f} dB, SSIM "
          f"{structural_similarity(neutral, rgb, channel_axis=2):.4f}; head turned 15/8 degrees: largest change "
          f"outside the face's box {np.abs(image.astype(int) - rgb.astype(int))[outside].max()} grey levels "
          f"({outside.mean() * 100:.0f} % of the frame); over the background mask a quarter face width clear of the head: largest change "
          f"{np.abs(image.astype(int) - rgb.astype(int))[away].max()}, mean {np.abs(image.astype(int) - rgb.astype(int))[away].mean():.3f} "
          f"grey levels ({away.mean() * 100:.0f} % of the frame)")
    # Flicker: codes held still give the same frame; a slow jaw ramp moves the face smoothly.
    still = [decoder.render(turned) for _ in range(2)]
    ramp = []
    for k in range(20):
        f = rest.copy()
        f[INDEX["jawOpen"]] = 0.2 + 0.01 * k
        ramp.append(decoder.render(f).astype(int))
    steps = [np.abs(b - a)[y0:y1, x0:x1].mean() for a, b in zip(ramp, ramp[1:])]
    print(f"flicker: the same codes twice differ by {np.abs(still[0].astype(int) - still[1].astype(int)).max()} grey levels; "
          f"a jaw ramp of 0.01 a frame changes the face box by {np.mean(steps):.3f} grey levels a frame on average, "
          f"{np.max(steps):.3f} at most (no step stands out: max/mean {np.max(steps) / max(np.mean(steps), 1e-9):.1f})")


if __name__ == "__main__":
    main()
