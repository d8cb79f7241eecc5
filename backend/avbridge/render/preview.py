"""`avbridge preview`: a take rendered on the ARKit reference face, as an mp4 with the take's audio
and a contact-sheet PNG, so anyone can watch the animation without an engine.

The video is encoded by the ffmpeg that the imageio-ffmpeg wheel carries (H.264, yuv420p, audio
as AAC). The frame shown at video time t is the track's frame at t (nearest), so the sync in the
video is the sync in the track.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from avbridge.core.audio import write_wav
from avbridge.render.face_mesh import FaceMesh
from avbridge.takes.read import Take


def render_preview(take: Take, out_dir: Path, fps: float = 30.0, size: int = 512, sheet_frames: int = 12) -> dict[str, Path]:
    mesh = FaceMesh()
    track = take.track

    def frame_at(i: int) -> np.ndarray:
        return np.asarray(mesh.render(track.blendshapes[i], track.head[i], track.gaze[i], size))

    return write_take_video(take, Path(out_dir), "preview", (size, size), fps, frame_at,
                            lambda image: Image.fromarray(image), sheet_frames, sheet_name="contact_sheet.png")


def write_take_video(take: Take, out_dir: Path, stem: str, size: tuple[int, int], fps: float,
                     frame_at: Callable[[int], np.ndarray], thumbnail: Callable[[np.ndarray], Image.Image],
                     sheet_frames: int = 12, sheet_name: str | None = None) -> dict[str, Path]:
    """`stem`.mp4 of `frame_at(track index)` images (W, H = `size`) with the take's audio, and a
    contact sheet of `sheet_frames` thumbnails. Shared by the reference face and the portrait."""
    import imageio_ffmpeg

    out_dir.mkdir(parents=True, exist_ok=True)
    track = take.track
    duration = len(track) / track.fps
    count = max(1, int(np.ceil(duration * fps - 1e-9)))
    indices = np.minimum(np.round(np.arange(count) / fps * track.fps).astype(int), len(track) - 1)
    audio_path = None
    if take.pcm is not None:
        audio_path = out_dir / f"{stem}_audio.wav"
        write_wav(audio_path, take.pcm, take.sample_rate)
    video_path = out_dir / f"{stem}.mp4"
    writer = imageio_ffmpeg.write_frames(str(video_path), size, fps=fps, codec="libx264", quality=7,
                                         pix_fmt_out="yuv420p", macro_block_size=2 if size[0] % 16 or size[1] % 16 else 16,
                                         audio_path=str(audio_path) if audio_path else None,
                                         audio_codec="aac" if audio_path else None, ffmpeg_log_level="error")
    writer.send(None)
    sheet_at = set(np.linspace(0, count - 1, min(sheet_frames, count)).astype(int).tolist())
    thumbnails: list[tuple[float, Image.Image]] = []
    for n, i in enumerate(indices):
        image = frame_at(int(i))
        writer.send(np.ascontiguousarray(image))
        if n in sheet_at:
            thumbnails.append((n / fps, thumbnail(image)))
    writer.close()
    if audio_path:
        audio_path.unlink()
    sheet_path = out_dir / (sheet_name or f"{stem}_sheet.png")
    _contact_sheet(thumbnails, take.name).save(sheet_path)
    return {"video": video_path, "sheet": sheet_path}


def _contact_sheet(thumbnails: list[tuple[float, Image.Image]], title: str, columns: int = 4) -> Image.Image:
    size = thumbnails[0][1].width // 2
    rows = int(np.ceil(len(thumbnails) / columns))
    sheet = Image.new("RGB", (columns * size, rows * size + 28), (24, 24, 30))
    draw = ImageDraw.Draw(sheet)
    draw.text((8, 8), title, fill=(230, 230, 230))
    for k, (at, frame) in enumerate(thumbnails):
        x, y = (k % columns) * size, 28 + (k // columns) * size
        sheet.paste(frame.resize((size, size), Image.Resampling.LANCZOS), (x, y))
        draw.text((x + 6, y + 4), f"{at:.2f} s", fill=(230, 230, 230))
    return sheet
