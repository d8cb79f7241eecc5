"""Importers that build training clips: real Live Link Face takes with their audio (wav, and a
.mov whose timecode places the audio), tracking-loss rows, any talking video through MediaPipe,
the corpus folder, and clear refusals of broken input."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import numpy as np
import pytest
from avbridge.core.audio import read_wav_mono
from avbridge.datasets import corpus
from avbridge.datasets.corpus import DatasetError
from avbridge.datasets.livelink_take import load_take
from avbridge.datasets.sources import load_source, split
from avbridge.motion.flow.features import HEAD, MOTION_DIM
from avbridge.takes.livelink_csv import TakeError, parse_timecode

DATA = Path(__file__).parent / "data"
MYSLATE = DATA / "MySlate_3_Jason_Millers_iPhone.csv"
APFEL = DATA / "apfel_tracking_loss_excerpt.csv"


def speech(seconds: float) -> np.ndarray:
    """Real speech (the BEAT excerpt, looped) of the given length, int16 at 16 kHz."""
    pcm = read_wav_mono(DATA / "beat_scott_excerpt.wav")[0]
    return np.resize(pcm, int(seconds * 16000))


def write_wav(path: Path, pcm: np.ndarray, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype("<i2").tobytes())
    return path


def write_mov(path: Path, pcm: np.ndarray, timecode: str | None, frames: list[np.ndarray] | None = None,
              fps: int = 30) -> Path:
    """A QuickTime file like Live Link Face's: video, audio and a start timecode. The audio is
    PCM: PyAV's AAC encoder leaves its 1024 priming samples in without an edit list, which would
    test the encoder rather than the alignment."""
    import av
    seconds = len(pcm) / 16000
    frames = frames if frames is not None else [np.zeros((64, 64, 3), np.uint8)] * int(seconds * fps)
    with av.open(str(path), "w") as out:
        video = out.add_stream("mpeg4", rate=fps)
        video.height, video.width = frames[0].shape[:2]
        video.pix_fmt = "yuv420p"
        if timecode:
            video.metadata["timecode"] = timecode
        audio = out.add_stream("pcm_s16le", rate=16000)
        audio.layout = "mono"
        for image in frames:
            for packet in video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for k in range(0, len(pcm), 1024):
            frame = av.AudioFrame.from_ndarray(pcm[None, k:k + 1024].astype(np.int16), format="s16", layout="mono")
            frame.sample_rate = 16000
            for packet in audio.encode(frame):
                out.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                out.mux(packet)
    return path


def test_a_real_take_with_its_wav(tmp_path):
    csv = shutil.copy(MYSLATE, tmp_path / MYSLATE.name)
    write_wav(tmp_path / MYSLATE.with_suffix(".wav").name, speech(5.5))
    clip = load_source(f"livelink:{csv}")[0]
    assert clip.fps == 60.0 and clip.motion.shape == (328, MOTION_DIM) and clip.valid.all()
    assert len(clip.pcm) == round(328 / 60 * 16000)
    assert clip.measured[:52].all() and not clip.measured[HEAD].any()   # head tracking was off in this take
    assert clip.motion[:, 17].max() > 0.1                               # the jaw moves


def test_tracking_loss_rows_teach_nothing(tmp_path):
    wav = write_wav(tmp_path / "apfel.wav", speech(2.5))
    clip = load_take(APFEL, wav)
    assert clip.fps == 30.0
    lost = sum(1 for line in APFEL.read_text().splitlines()[1:] if len(line.split(",")) <= 2)
    assert lost > 0 and (~clip.valid).sum() == lost == clip.meta["tracking_lost_frames"]
    assert np.isfinite(clip.motion).all()


def test_mov_timecode_places_the_audio(tmp_path):
    # The audio starts 0.5 s before the face capture; a click sits at the CSV's frame 120 (2 s in).
    take_start = parse_timecode(MYSLATE.read_text().splitlines()[1].split(",")[0])
    audio_start = take_start - 0.5
    pcm = np.zeros(int(7 * 16000), np.int16)
    click = int((0.5 + 2.0) * 16000)
    pcm[click:click + 160] = 20000
    hours, rest = divmod(audio_start, 3600)
    minutes, seconds = divmod(rest, 60)
    timecode = f"{int(hours):02d}:{int(minutes):02d}:{int(seconds):02d}:{int(round((seconds % 1) * 30)):02d}"
    csv = shutil.copy(MYSLATE, tmp_path / MYSLATE.name)
    write_mov(tmp_path / MYSLATE.with_suffix(".mov").name, pcm, timecode)
    clip = load_take(csv)
    quantised_offset = take_start - parse_timecode(timecode.rsplit(":", 1)[0] + ":00") - int(timecode[-2:]) / 30
    assert clip.meta["audio_offset_s"] == pytest.approx(quantised_offset, abs=1e-3)
    loud = np.flatnonzero(np.abs(clip.pcm.astype(np.int32)) > 5000)
    found_s = loud[0] / 16000
    assert found_s == pytest.approx(2.0 + 0.5 - quantised_offset, abs=0.03)


@pytest.mark.parametrize("content, message", [
    ("Timecode,BlendShapeCount,EyeBlinkLeft\n00:00:00:00.000,61,0.5\n", r"lacks 51 blendshape column\(s\)"),
    ("not,a,take\n", "line 1 must start with Timecode,BlendShapeCount"),
    ("", "empty file"),
])
def test_broken_csv_files_are_refused_with_the_reason(tmp_path, content, message):
    csv = tmp_path / "broken.csv"
    csv.write_text(content)
    write_wav(tmp_path / "broken.wav", speech(1.0))
    with pytest.raises(TakeError, match=message):
        load_take(csv)


def test_missing_or_short_audio_is_refused(tmp_path):
    csv = shutil.copy(MYSLATE, tmp_path / MYSLATE.name)
    with pytest.raises(DatasetError, match="no audio beside it"):
        load_take(csv)
    write_wav(tmp_path / "short.wav", speech(2.0))
    with pytest.raises(DatasetError, match=r"the audio covers 2.00 s of the take's 5.47 s"):
        load_take(csv, tmp_path / "short.wav")
    (tmp_path / "noise.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    with pytest.raises(DatasetError, match="noise.wav: not a readable wav"):
        load_take(csv, tmp_path / "noise.wav")


def test_a_talking_video_through_mediapipe(tmp_path):
    from skimage import data
    face = np.ascontiguousarray(data.astronaut()[::2, ::2])            # 256 x 256
    blank = np.zeros_like(face)
    frames = [face] * 30 + [blank] * 6 + [face] * 24                   # 2 s at 30 fps, 6 frames without a face
    video = write_mov(tmp_path / "talk.mov", speech(2.0), None, frames)
    clip = load_source(f"video:{video}")[0]
    assert clip.motion.shape == (60, MOTION_DIM) and clip.fps == 30.0
    assert (~clip.valid).sum() == 6 and not clip.valid[30:36].any()
    assert np.abs(np.median(clip.motion[clip.valid][:, HEAD], axis=0)).max() < 1e-6
    assert len(clip.pcm) == 32000 and np.abs(clip.pcm).max() > 1000
    with pytest.raises(DatasetError, match="a face was found in 0 of 20 frames"):
        load_source(f"video:{write_mov(tmp_path / 'empty.mov', speech(20 / 30), None, [blank] * 20)}")


def test_corpus_folder_round_trips_and_sources_name_their_errors(tmp_path):
    write_wav(tmp_path / "apfel.wav", speech(2.5))
    clips = [load_take(APFEL, tmp_path / "apfel.wav")] + load_source("synthetic:2")
    assert clips[1].phonemes and clips[1].source == "synthetic"
    folder = corpus.save(clips, tmp_path / "corpus")
    again = corpus.load(folder)
    assert [c.name for c in again] == [c.name for c in clips]
    for a, b in zip(clips, again):
        assert np.array_equal(a.motion, b.motion) and np.array_equal(a.valid, b.valid) and np.array_equal(a.pcm, b.pcm)
    assert again[1].phonemes == clips[1].phonemes
    training, held_out = split(again, ["synthetic_001"])
    assert [c.name for c in held_out] == ["synthetic_001"] and len(training) == 2
    with pytest.raises(DatasetError, match="held-out clip\\(s\\) not in the data: nope"):
        split(again, ["nope"])
    with pytest.raises(DatasetError, match="want KIND:WHERE"):
        load_source("tape:/dev/null")
    with pytest.raises(DatasetError, match="not a corpus"):
        load_source(f"corpus:{tmp_path}")
    with pytest.raises(DatasetError, match="not a FACEGOOD folder"):
        load_source(f"facegood:{tmp_path}")
