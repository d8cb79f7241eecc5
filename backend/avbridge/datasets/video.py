"""Any video of a face talking as a training clip: MediaPipe FaceLandmarker on every frame
(perception/face.py: 52 ARKit-named blendshape scores and head rotation from the facial
transformation matrix) and the video's own soundtrack.

Frames where no face is found are invalid (they teach nothing) and filled between their
neighbours. Head yaw, pitch and roll are taken relative to the take's median pose, so a camera
placed off to one side does not teach the model to look away. MediaPipe's scores are its own
estimate of ARKit's shapes, not an iPhone's: a corpus should not mix the two for one actor
without checking their ranges against each other (`avbridge inspect`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avbridge.core.audio import ANALYSIS_RATE
from avbridge.core.rotation import quaternion_to_yaw_pitch_roll
from avbridge.datasets.corpus import Clip, DatasetError
from avbridge.datasets.media import fit_length, read_audio, video_frames
from avbridge.motion.flow.features import HEAD, MOTION_DIM
from avbridge.takes.livelink_csv import fill_gaps

MIN_TRACKED_SHARE = 0.5


def load_video(path: str | Path, tracker=None) -> Clip:
    """Track every frame of `path` (a fresh FaceTracker unless one is given) -> Clip."""
    from avbridge.perception.face import FaceTracker
    path = Path(path)
    fps, frames = video_frames(path)
    own = tracker is None
    tracker = tracker or FaceTracker()
    rows, valid = [], []
    try:
        for time_s, rgb in frames:
            seen = tracker.track(rgb, time_s)
            row = np.full(MOTION_DIM, np.nan)
            if seen.tracked:
                row[:52] = seen.weights
                row[HEAD] = quaternion_to_yaw_pitch_roll(seen.head[None, :4])[0]
            rows.append(row)
            valid.append(bool(seen.tracked))
    finally:
        if own:
            tracker.close()
    valid_arr = np.array(valid, bool)
    if not rows:
        raise DatasetError(f"{path}: no video frames")
    if valid_arr.mean() < MIN_TRACKED_SHARE:
        raise DatasetError(f"{path}: a face was found in {valid_arr.sum()} of {len(valid_arr)} frames; "
                           f"want at least {MIN_TRACKED_SHARE:.0%}")
    motion = fill_gaps(np.array(rows), valid_arr).astype(np.float32)
    motion[:, HEAD] -= np.median(motion[valid_arr][:, HEAD], axis=0)
    pcm = fit_length(read_audio(path).pcm, int(round(len(motion) / fps * ANALYSIS_RATE)))
    return Clip(f"video_{path.stem}", "video", fps, motion, np.ones(MOTION_DIM, bool), valid_arr, pcm, None,
                {"video": str(path), "tracking_lost_frames": int((~valid_arr).sum())})
