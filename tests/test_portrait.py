"""The 2D portrait renderer against MediaPipe's own reading of what it renders (a closed loop), on
scikit-image's astronaut photo (NASA, public domain)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

pytest.importorskip("mediapipe")
pytest.importorskip("cv2")
from avbridge.core.arkit import INDEX
from avbridge.render.portrait import PortraitDecoder, PortraitError, fit_portrait
from avbridge.render.portrait.fit import load_image
from avbridge.render.portrait.landmarks import Detection, FaceFinder, check_face
from skimage import data


@pytest.fixture(scope="module")
def finder():
    f = FaceFinder()
    yield f
    f.close()


@pytest.fixture(scope="module")
def decoder(finder):
    return PortraitDecoder(fit_portrait(data.astronaut(), finder))


def _r(commanded, recovered) -> float:
    return float(np.corrcoef(commanded, recovered)[0, 1])


def test_the_fit_lands_the_mesh_on_the_face(decoder):
    portrait = decoder.portrait
    assert portrait.fit_residual_px < 3.0, "median landmark-to-mesh distance after alignment"
    assert portrait.basis.shape == (52, 478, 3)
    chin = portrait.basis[INDEX["jawOpen"], 152]
    assert chin[1] > 0.1 * portrait.face_width, "opening the jaw moves the chin down by a tenth of the face"


def test_the_rest_frame_is_the_photo(decoder):
    image = decoder.render(decoder.rest_frame())
    assert np.array_equal(image, decoder.portrait.image)


def test_jaw_and_head_are_read_back(decoder, finder):
    rest = decoder.rest_frame()
    base = finder.find(decoder.portrait.image)
    jaw, yaw, pitch = [], [], []
    values = np.linspace(0, 1, 5)
    for v in values:
        frame = rest.copy()
        frame[INDEX["jawOpen"]] = v
        jaw.append(finder.find(decoder.render(frame)).weights[INDEX["jawOpen"]])
    angles = np.linspace(-18, 18, 5)
    for a in angles:
        frame = rest.copy()
        frame[52:56] = Rotation.from_euler("y", a, degrees=True).as_quat()
        yaw.append(finder.find(decoder.render(frame)).yaw_pitch_degrees[0] - base.yaw_pitch_degrees[0])
        frame[52:56] = Rotation.from_euler("x", a, degrees=True).as_quat()
        pitch.append(finder.find(decoder.render(frame)).yaw_pitch_degrees[1] - base.yaw_pitch_degrees[1])
    assert _r(values, jaw) >= 0.9, jaw
    assert _r(angles, yaw) >= 0.95, yaw
    assert _r(angles, pitch) >= 0.95, pitch
    assert np.sign(yaw[-1]) == np.sign(angles[-1]), "a turn to the avatar's left reads as one"


def test_blinks_are_read_back(decoder, finder):
    rest = decoder.rest_frame()
    pulses = [0, 0, 1, 0, 0.5, 1, 0, 1, 0, 0]     # blinks as a stream has them: mostly open, brief closures
    for name in ("eyeBlinkLeft", "eyeBlinkRight"):
        read = []
        for v in pulses:
            frame = rest.copy()
            frame[INDEX[name]] = v
            read.append(finder.find(decoder.render(frame)).weights[INDEX[name]])
        assert _r(pulses, read) >= 0.8, (name, np.round(read, 3))


def test_the_background_holds_still_while_the_head_turns(decoder):
    frame = decoder.rest_frame()
    frame[52:56] = Rotation.from_euler("yx", [15, 8], degrees=True).as_quat()
    image = decoder.render(frame).astype(int)
    x0, y0, x1, y1 = decoder.warp.box
    outside = np.ones(image.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    change = np.abs(image - decoder.portrait.image.astype(int))[outside]
    assert change.max() == 0, "pixels away from the head are the photo's own"
    inside = np.abs(image - decoder.portrait.image.astype(int))[~outside]
    assert inside.mean() > 1.0, "and the head did move"


def test_the_open_mouth_is_dark_inside(decoder):
    frame = decoder.rest_frame()
    frame[INDEX["jawOpen"]] = 1.0
    image = decoder.render(frame)
    target = decoder.targets(frame)
    centre = (target[13, :2] + target[14, :2]) / 2
    x, y = np.round(centre).astype(int)
    assert image[y, x].mean() < 0.6 * decoder.portrait.image[y, x].mean() or image[y, x].mean() < 80


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + chunk(b"IEND", b"")


def _png(rgb: np.ndarray) -> bytes:
    from PIL import Image
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("upload, code", [
    (b"not an image at all", "bad_image"),
    (_png_header(10_000, 6_000), "image_too_large"),
])
def test_unusable_uploads_are_refused_before_fitting(upload, code):
    with pytest.raises(PortraitError) as caught:
        load_image(upload)
    assert caught.value.code == code and str(caught.value)


def test_photos_without_one_usable_face_are_refused(finder):
    astronaut = data.astronaut()
    head = astronaut[40:240, 140:320]      # her head, tight: two side by side still fill the frame
    cases = {
        "no_face": np.full((256, 256, 3), 128, np.uint8),
        "several_faces": np.concatenate([head, head], axis=1),
        "face_too_small": load_image(_png(astronaut), max_side=160),
    }
    for code, rgb in cases.items():
        with pytest.raises(PortraitError) as caught:
            fit_portrait(rgb, finder)
        assert caught.value.code == code, (code, str(caught.value))


def test_a_face_in_profile_is_refused():
    turned = np.r_[Rotation.from_euler("y", 70, degrees=True).as_quat(), 0, 0, -0.5]
    detection = Detection(points=np.c_[np.linspace(0, 200, 478), np.zeros(478), np.zeros(478)], weights=np.zeros(52), head=turned, faces=1)
    with pytest.raises(PortraitError) as caught:
        check_face(detection, (512, 512, 3))
    assert caught.value.code == "face_in_profile" and "70 degrees" in str(caught.value)


def test_the_bank_gives_a_key_back_and_follows_the_jaw(decoder, finder):
    from avbridge.render.portrait.bank import FrameBank
    bank = FrameBank(decoder, expressions=("neutral",))
    assert len(bank.keys) == 30, "15 visemes, eyes open and closed"
    frame = decoder.rest_frame()
    frame[:52] = bank.key_weights[7]
    order, mix = bank.nearest(frame)
    assert order[0] == 7 and mix[0] > 0.95
    x0, y0, x1, y1 = decoder.warp.box
    difference = np.abs(bank.render(frame)[y0:y1, x0:x1].astype(int) - bank.keys[7].astype(int))
    assert difference.mean() < 0.5 and difference.max() <= 4, "the key itself, barely mixed with the next"

    jaw = np.linspace(0, 0.6, 5)
    read = []
    for v in jaw:
        f = decoder.rest_frame()
        f[INDEX["jawOpen"]] = v
        read.append(finder.find(bank.render(f, "flow")).weights[INDEX["jawOpen"]])
    assert _r(jaw, read) >= 0.8, read


# -- over the protocol (SPEC 8.8) -------------------------------------------------------------------

def _astronaut_png() -> bytes:
    return _png(data.astronaut())


def test_a_portrait_session_streams_video_on_the_frames_timeline(client):
    from avbridge.client import ServerError
    assert "portrait" in client.welcome["capabilities"]
    session = client.open(realtime=False, idle=False)
    reply = session.portrait(_astronaut_png(), fps=25, quality=80)
    assert reply.type == "ok"
    result = session.say("Hello there, Bob.", timeout=60)
    assert result.video, "video frames arrive with the line"
    duration = result.end["time"] - result.start
    assert abs(len(result.video) - duration * 25) <= 2
    assert [v.index for v in result.video] == list(range(len(result.video)))
    for v in result.video:
        assert abs(v.time - (result.start + v.index / 25)) < 1e-6
    first = result.video[0].image()
    assert first.shape == (512, 512, 3)
    # The frame at the loudest, most open moment differs from the photo around the mouth.
    jaw = result.track.blendshapes[:, INDEX["jawOpen"]]
    widest = result.video[min(len(result.video) - 1, int(np.argmax(jaw) / result.track.fps * 25))].image()
    assert np.abs(widest.astype(int) - data.astronaut().astype(int)).mean() > 0.5
    with pytest.raises(ServerError) as caught:
        session.portrait(b"this is not a picture")
    assert caught.value.code == "bad_image"
    with pytest.raises(ServerError) as caught:
        session.portrait(_png(np.full((200, 200, 3), 90, np.uint8)))
    assert caught.value.code == "no_face"
    with pytest.raises(ServerError) as caught:
        session.portrait(_astronaut_png(), format="gif")
    assert caught.value.code == "bad_field"
    # The session still serves after the refusals.
    assert session.say("Still here.", timeout=60).video


def test_the_cli_writes_a_talking_portrait(tmp_path):
    from avbridge.cli.main import main
    photo = tmp_path / "astronaut.png"
    photo.write_bytes(_astronaut_png())
    assert main(["portrait", str(photo), "Hello there.", "--out", str(tmp_path / "out"), "--voice", "espeak"]) == 0
    assert (tmp_path / "out" / "portrait.mp4").stat().st_size > 10_000
    assert (tmp_path / "out" / "portrait_sheet.png").exists()
    blank = tmp_path / "blank.png"
    blank.write_bytes(_png(np.full((64, 64, 3), 200, np.uint8)))
    assert main(["portrait", str(blank), "Hello.", "--out", str(tmp_path / "no")]) == 2, "a sentence, not a traceback"
