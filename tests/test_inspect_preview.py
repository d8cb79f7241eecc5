"""`avbridge inspect` and `avbridge preview` on real takes and on our own."""

import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from avbridge.cli import main
from avbridge.core.arkit import INDEX
from avbridge.render.face_mesh import FaceMesh
from PIL import Image

DATA = Path(__file__).parent / "data"


def test_inspect_draws_one_take_or_two_side_by_side(tmp_path):
    out = tmp_path / "sheet.png"
    assert main(["inspect", str(DATA / "MySlate_3_Jason_Millers_iPhone.csv"), "--compare",
                 str(DATA / "apfel_tracking_loss_excerpt.csv"), "--out", str(out), "--log-level", "warning"]) == 0
    image = Image.open(out)
    assert image.width > 1500 and image.height > 1000     # two columns of curve rows


def test_the_face_moves_with_the_weights():
    mesh = FaceMesh()
    neutral = mesh.vertices(np.zeros(52))
    weights = np.zeros(52)
    weights[INDEX["jawOpen"]] = 1.0
    opened = mesh.vertices(weights)
    assert (opened[:, 1] - neutral[:, 1]).min() < -0.01        # the chin drops by more than a centimetre
    assert mesh.eye_centres.shape == (2, 3) and mesh.eye_centres[0, 0] > 0 > mesh.eye_centres[1, 0]
    head = np.array([0, 0, 0, 1, 0, 0, 0], float)
    a = np.asarray(mesh.render(np.zeros(52), head, np.zeros(4), 128)).astype(int)
    b = np.asarray(mesh.render(weights, head, np.zeros(4), 128)).astype(int)
    assert np.abs(a - b).sum() > 10_000


def test_preview_writes_a_video_with_sound_and_a_contact_sheet(tmp_path):
    take = tmp_path / "take"
    assert main(["say", "Bob waved.", "--voice", "espeak", "--out", str(take), "--log-level", "warning"]) == 0
    assert main(["preview", str(take), "--fps", "10", "--size", "128", "--log-level", "warning"]) == 0
    probe = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-i", str(take / "preview.mp4")], capture_output=True, text=True)
    assert "Video: h264" in probe.stderr and "Audio: aac" in probe.stderr
    assert Image.open(take / "contact_sheet.png").width == 4 * 64
