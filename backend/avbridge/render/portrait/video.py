"""A take (speech + track) rendered on a portrait: an mp4 with the take's audio and a contact sheet.

The video frame at time t shows the track's frame at t (nearest), as render/preview.py does for the
reference face, so the sync in the video is the sync in the track. Encoded by the ffmpeg that the
imageio-ffmpeg wheel carries (H.264, yuv420p, AAC).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from avbridge.core.audio import write_wav
from avbridge.render.portrait.decode import PortraitDecoder
from avbridge.render.preview import _contact_sheet
from avbridge.takes.read import Take


def frame_codes(take: Take, index: int) -> np.ndarray:
    """The 63 codes of track frame `index` (SPEC 8.3 layout)."""
    track = take.track
    return np.concatenate([track.blendshapes[index], track.head[index], track.gaze[index]]).astype(np.float64)


def render_portrait_video(take: Take, decoder: PortraitDecoder, out_dir: Path, fps: float = 30.0,
                          sheet_frames: int = 12) -> dict[str, Path]:
    import imageio_ffmpeg

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    track = take.track
    count = max(1, int(np.ceil(len(track) / track.fps * fps - 1e-9)))
    indices = np.minimum(np.round(np.arange(count) / fps * track.fps).astype(int), len(track) - 1)
    width, height = decoder.portrait.size
    width, height = width - width % 2, height - height % 2          # yuv420p wants even sizes
    audio_path = None
    if take.pcm is not None:
        audio_path = out_dir / "portrait_audio.wav"
        write_wav(audio_path, take.pcm, take.sample_rate)
    video_path = out_dir / "portrait.mp4"
    writer = imageio_ffmpeg.write_frames(str(video_path), (width, height), fps=fps, codec="libx264", quality=7,
                                         pix_fmt_out="yuv420p", macro_block_size=2,
                                         audio_path=str(audio_path) if audio_path else None,
                                         audio_codec="aac" if audio_path else None, ffmpeg_log_level="error")
    writer.send(None)
    sheet_at = set(np.linspace(0, count - 1, min(sheet_frames, count)).astype(int).tolist())
    thumbnails: list[tuple[float, Image.Image]] = []
    for n, i in enumerate(indices):
        image = decoder.render(frame_codes(take, int(i)))[:height, :width]
        writer.send(np.ascontiguousarray(image))
        if n in sheet_at:
            thumbnails.append((n / fps, _square(image, decoder)))
    writer.close()
    if audio_path:
        audio_path.unlink()
    sheet_path = out_dir / "portrait_sheet.png"
    _contact_sheet(thumbnails, take.name).save(sheet_path)
    return {"video": video_path, "sheet": sheet_path}


def _square(image: np.ndarray, decoder: PortraitDecoder, side: int = 512) -> Image.Image:
    """A square around the face, for the contact sheet."""
    points = decoder.portrait.points[:, :2]
    centre = points.mean(0)
    half = 1.1 * decoder.portrait.face_width
    h, w = image.shape[:2]
    x0, y0 = np.clip((centre - half).astype(int), 0, [w - 1, h - 1])
    x1, y1 = np.clip((centre + half).astype(int), [x0 + 1, y0 + 1], [w, h])
    return Image.fromarray(image[y0:y1, x0:x1]).resize((side, side), Image.Resampling.LANCZOS)
