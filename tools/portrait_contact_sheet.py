"""A contact sheet of the portrait renderer on one photo: rest, open mouth, closed lips (p/b/m),
a blink, a head turn and a glance, each labelled, so a person can judge them side by side.

    python tools/portrait_contact_sheet.py [IMAGE] --out docs/portrait_contact_sheet.png

Without IMAGE it uses scikit-image's astronaut photo (NASA, public domain).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from avbridge.core.arkit import INDEX
from avbridge.render.portrait import PortraitDecoder, fit_portrait
from avbridge.render.portrait.fit import load_image
from PIL import Image, ImageDraw
from scipy.spatial.transform import Rotation


def poses(rest: np.ndarray) -> list[tuple[str, np.ndarray]]:
    def frame(label: str, weights: dict[str, float] | None = None, turn: tuple[float, float] = (0, 0),
              gaze: tuple[float, float] = (0, 0)) -> tuple[str, np.ndarray]:
        f = rest.copy()
        for name, value in (weights or {}).items():
            f[INDEX[name]] = value
        f[52:56] = Rotation.from_euler("yx", turn, degrees=True).as_quat()
        f[59:63] = [gaze[0], gaze[1], gaze[0], gaze[1]]
        return label, f
    return [
        frame("rest (the photo)"),
        frame("open: jawOpen 0.7", {"jawOpen": 0.7}),
        frame("aah: jawOpen 1.0", {"jawOpen": 1.0}),
        frame("p/b/m: lips closed", {"jawOpen": 0.1, "mouthClose": 0.5, "mouthPressLeft": 0.6, "mouthPressRight": 0.6,
                                     "mouthRollLower": 0.3, "mouthSmileLeft": 0.3, "mouthSmileRight": 0.3}),
        frame("oo: pucker", {"mouthPucker": 0.9, "mouthFunnel": 0.4, "jawOpen": 0.15, "mouthSmileLeft": 0.2, "mouthSmileRight": 0.2}),
        frame("th: tongue", {"jawOpen": 0.35, "tongueOut": 1.0}),
        frame("blink", {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0}),
        frame("head turned 15° left", turn=(15, 0)),
        frame("head down 10°, right 10°", turn=(-10, 10)),
        frame("glance to her left", gaze=(0.45, 0.0)),
        frame("glance up", gaze=(0.0, -0.3)),
        frame("brows up, surprised", {"browInnerUp": 0.9, "browOuterUpLeft": 0.8, "browOuterUpRight": 0.8, "eyeWideLeft": 0.6,
                                      "eyeWideRight": 0.6, "jawOpen": 0.3}),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", nargs="?")
    parser.add_argument("--out", default="docs/portrait_contact_sheet.png")
    parser.add_argument("--crop", type=float, default=2.2, help="face widths around the face centre to show")
    args = parser.parse_args()
    if args.image:
        rgb = load_image(Path(args.image).read_bytes())
    else:
        from skimage import data
        rgb = data.astronaut()
    decoder = PortraitDecoder(fit_portrait(rgb))
    points = decoder.portrait.points[:, :2]
    centre = points.mean(0)
    half = args.crop * decoder.portrait.face_width / 2
    x0, y0 = np.maximum(0, (centre - half).astype(int))
    x1, y1 = np.minimum(rgb.shape[1::-1], (centre + half).astype(int))
    tiles = []
    for label, frame in poses(decoder.rest_frame()):
        tile = Image.fromarray(decoder.render(frame)[y0:y1, x0:x1]).resize((256, round(256 * (y1 - y0) / (x1 - x0))), Image.Resampling.LANCZOS)
        canvas = Image.new("RGB", (tile.width, tile.height + 22), (24, 24, 28))
        canvas.paste(tile, (0, 22))
        ImageDraw.Draw(canvas).text((6, 5), label, fill=(235, 235, 235))
        tiles.append(canvas)
    columns = 4
    rows = (len(tiles) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * tiles[0].width, rows * tiles[0].height), (24, 24, 28))
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % columns) * tile.width, (i // columns) * tile.height))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"wrote {args.out} ({sheet.width}x{sheet.height})")


if __name__ == "__main__":
    main()
