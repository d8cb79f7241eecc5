"""A take (speech + track) rendered on a portrait: an mp4 with the take's audio and a contact sheet.

The video frame at time t shows the track's frame at t (nearest), as render/preview.py does for the
reference face, so the sync in the video is the sync in the track. Encoded by the ffmpeg that the
imageio-ffmpeg wheel carries (H.264, yuv420p, AAC).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from avbridge.render.portrait.decode import PortraitDecoder
from avbridge.render.preview import write_take_video
from avbridge.takes.read import Take


def render_portrait_video(take: Take, decoder: PortraitDecoder, out_dir: Path, fps: float = 30.0,
                          sheet_frames: int = 12) -> dict[str, Path]:
    width, height = decoder.portrait.size
    width, height = width - width % 2, height - height % 2          # yuv420p wants even sizes
    codes = take.track.packed().astype(np.float64)                  # (T, 63), SPEC 8.3's layout

    def frame_at(i: int) -> np.ndarray:
        return decoder.render(codes[i])[:height, :width]

    return write_take_video(take, Path(out_dir), "portrait", (width, height), fps, frame_at,
                            lambda image: _square(image, decoder), sheet_frames)


def _square(image: np.ndarray, decoder: PortraitDecoder, side: int = 512) -> Image.Image:
    """A square around the face, for the contact sheet."""
    points = decoder.portrait.points[:, :2]
    centre = points.mean(0)
    half = 1.1 * decoder.portrait.face_width
    h, w = image.shape[:2]
    x0, y0 = np.clip((centre - half).astype(int), 0, [w - 1, h - 1])
    x1, y1 = np.clip((centre + half).astype(int), [x0 + 1, y0 + 1], [w, h])
    return Image.fromarray(image[y0:y1, x0:x1]).resize((side, side), Image.Resampling.LANCZOS)
