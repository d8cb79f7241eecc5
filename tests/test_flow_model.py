"""The learned motion model: a tiny network overfits 10 s of real capture, checkpoints round-trip
and reject what is not theirs, streaming gives the offline frames, and a server serves it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from avbridge.core.audio import read_wav_mono
from avbridge.core.track import Track
from avbridge.datasets.corpus import Clip
from avbridge.datasets.facegood import MEASURED, load_take
from avbridge.motion import MotionParams, frames_covering, load_generator
from avbridge.motion.flow import CheckpointError
from avbridge.motion.flow.cfm import ConditionalFlowMatching
from avbridge.motion.flow.dit import DiTConfig, TwoStreamDiT
from avbridge.motion.flow.features import (
    AUDIO_DIM,
    MOTION_DIM,
    USER_DIM,
    motion_from_track,
)
from avbridge.motion.flow.generator import FlowGenerator
from avbridge.motion.flow.model import (
    FORMAT_VERSION,
    FlowConfig,
    FlowMotionModel,
    sidecar_path,
)
from avbridge.motion.metrics import correlation
from avbridge.training.train import SIZES, TrainConfig, Trainer, generate_clip

DATA = Path(__file__).parent / "data"
JAW = 17


@pytest.fixture(scope="module")
def real_clip() -> Clip:
    take = load_take(DATA / "facegood_1114_3_15_excerpt.npy", DATA / "facegood_1114_3_15_excerpt.wav",
                     DATA / "facegood_bs_names.npy")
    motion = motion_from_track(take.track)
    return Clip("facegood_excerpt", "facegood", 30.0, motion, MEASURED.copy(), np.ones(len(motion), bool), take.pcm)


def tiny_trainer(tmp_path, clips, val=(), steps=300, seed=0) -> Trainer:
    torch.manual_seed(seed)
    config = TrainConfig(out=str(tmp_path / "run"), epochs=1, steps_per_epoch=steps, batch=16, lr=3e-3,
                         warmup_steps=20, speech_dropout=0.0, seed=seed, device="cpu", val_crops=8,
                         flow=FlowConfig(dit=SIZES["tiny"]))
    return Trainer(config, list(clips), list(val))


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory, real_clip) -> Path:
    trainer = tiny_trainer(tmp_path_factory.mktemp("ckpt"), [real_clip], steps=40)
    trainer.run(progress=False)
    return Path(trainer.config.out) / "last.pt"


def test_network_shapes_and_highway_fusion():
    net = TwoStreamDiT(DiTConfig(dim=32, hidden=64, heads=4, depth=2)).eval()
    b, t = 3, 17
    args = (torch.randn(b, t, MOTION_DIM), torch.rand(b), torch.randn(b, t, AUDIO_DIM),
            torch.zeros(b, t, dtype=torch.int64), torch.zeros(b, t, MOTION_DIM), torch.zeros(b, t, 1),
            torch.zeros(b, t, USER_DIM))
    assert net(*args).shape == (b, t, MOTION_DIM)
    # Fusion starts at zero (two independent stacks); once it is not, the audio reaches the motion
    # stream through it and only through it (the motion stream's input never reads the audio).
    for layer in net.fusion:
        torch.nn.init.normal_(layer.weight, std=0.05)
    for block in [*net.audio_blocks, *net.motion_blocks]:
        torch.nn.init.normal_(block.modulation.weight, std=0.05)
    quiet = net(*args)
    loud = net(args[0], args[1], args[2] + 3.0, *args[3:])
    assert (quiet - loud).abs().max() > 1e-3
    for layer in net.fusion:
        torch.nn.init.zeros_(layer.weight)
        torch.nn.init.zeros_(layer.bias)
    assert torch.allclose(net(*args), net(args[0], args[1], args[2] + 3.0, *args[3:]))


def test_euler_sampling_follows_a_known_field():
    # v(x, t) = target - noise along the straight path: Euler lands on the target in any step count.
    cfm = ConditionalFlowMatching(sigma_min=0.0)
    noise, target = torch.randn(2, 5, 3), torch.randn(2, 5, 3)
    estimator = lambda x, t, **_: target - noise  # noqa: E731
    for steps in (1, 8):
        assert torch.allclose(cfm.sample(estimator, noise, {}, steps), target, atol=1e-5)
    with pytest.raises(ValueError, match="steps must be 1 or more"):
        cfm.sample(estimator, noise, {}, 0)


def test_tiny_model_overfits_ten_seconds_of_real_capture(tmp_path, real_clip):
    trainer = tiny_trainer(tmp_path, [real_clip], steps=300)
    losses = [trainer.train_step() for _ in range(300)]
    first, last = np.mean(losses[:10]), np.mean(losses[-20:])
    assert last < first / 2.0, (first, last)           # measured: 1.05 -> 0.37 (2.8x)
    generated = generate_clip(trainer.model, real_clip)
    assert correlation(generated[:, JAW], real_clip.motion[:len(generated), JAW]) > 0.7   # measured 0.87
    assert set(trainer.model.config.learned) <= set(np.flatnonzero(MEASURED))


def test_checkpoint_round_trips_with_a_sidecar(tmp_path, tiny_checkpoint, real_clip):
    model, state = FlowMotionModel.load(tiny_checkpoint)
    sidecar = json.loads(sidecar_path(tiny_checkpoint).read_text())
    assert sidecar["format_version"] == FORMAT_VERSION and sidecar["config"]["dit"]["dim"] == SIZES["tiny"].dim
    assert sidecar["history"][0]["epoch"] == 1 and state["step"] == 40
    copy = model.save(tmp_path / "copy.pt")
    again, state_again = FlowMotionModel.load(copy)
    assert state_again is None
    for a, b in zip(model.net.state_dict().values(), again.net.state_dict().values()):
        assert torch.equal(a, b)
    assert np.array_equal(generate_clip(model, real_clip, seed=5), generate_clip(again, real_clip, seed=5))
    assert again.config.learned == model.config.learned


def test_training_resumes_where_it_stopped(tmp_path, real_clip):
    straight = tiny_trainer(tmp_path / "a", [real_clip], [real_clip], steps=10)
    straight.config.epochs = 2
    straight.run(progress=False)
    halves = tiny_trainer(tmp_path / "b", [real_clip], [real_clip], steps=10)
    halves.run(progress=False)                           # epoch 1 of 1
    resumed = tiny_trainer(tmp_path / "b", [real_clip], [real_clip], steps=10)
    resumed.config.epochs = 2
    resumed.resume(tmp_path / "b" / "run" / "last.pt")
    resumed.run(progress=False)
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    assert resumed.history[1]["train_loss"] == pytest.approx(straight.history[1]["train_loss"], rel=1e-4)
    for key in ("lip_f1", "jaw_r", "frechet", "val_loss"):
        assert key in resumed.history[1]


class Ran:
    """Unpickling this would run code: a checkpoint that holds one must be refused."""
    ran = False

    def __reduce__(self):
        return (Ran._run, ())

    @staticmethod
    def _run():
        Ran.ran = True


def test_bad_checkpoints_are_refused_by_name(tmp_path, tiny_checkpoint):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        FlowMotionModel.load(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="junk.pt: not a readable checkpoint"):
        FlowMotionModel.load(junk)
    payload = torch.load(tiny_checkpoint, weights_only=True)
    torch.save({**payload, "extra": Ran()}, tmp_path / "code.pt")
    with pytest.raises(CheckpointError, match="code.pt: not a readable checkpoint"):
        FlowMotionModel.load(tmp_path / "code.pt")      # a pickle that would run code is not run
    assert not Ran.ran
    payload["format_version"] = 99
    torch.save(payload, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="format version 99; this avbridge reads 1"):
        FlowMotionModel.load(tmp_path / "future.pt")
    payload["format_version"] = FORMAT_VERSION
    payload["config"]["dit"]["dim"] = 32
    torch.save(payload, tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match="weights do not fit the config"):
        FlowMotionModel.load(tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError):
        load_generator(f"flow:{tmp_path / 'missing.pt'}")


@pytest.mark.parametrize("rate", [16000, 22050])
def test_streamed_frames_equal_offline_frames(tiny_checkpoint, real_clip, rate):
    generator = FlowGenerator(tiny_checkpoint, device="cpu")
    pcm = real_clip.pcm[:16000 * 4]
    if rate != 16000:
        import soxr
        pcm = np.round(soxr.resample(pcm.astype(np.float32), 16000, rate)).astype(np.int16)
    offline = generator.generate(pcm, rate, 60.0, seed=9)
    stream = generator.start(60.0, rate, MotionParams(), seed=9)
    rng = np.random.default_rng(1)
    pieces, i, starts = [], 0, []
    while i < len(pcm):
        n = int(rng.integers(50, 6000))
        piece = stream.push(pcm[i:i + n])
        starts.append(piece.start_frame)
        pieces.append(piece)
        i = min(i + n, len(pcm))
        # A frame is never owed for longer than a window plus its look-ahead (and one model frame).
        assert frames_covering(i, 60.0, rate) - (piece.start_frame + len(piece)) <= (generator.delay_frames + 1) * 2
    pieces.append(stream.finish())
    streamed = Track.concatenate(pieces, 60.0)
    assert len(streamed) == len(offline) == frames_covering(len(pcm), 60.0, rate)
    assert starts == sorted(starts)
    learned = [i for i in generator.model.config.learned if i < 52]
    # Resampled in pieces, the 16 kHz audio differs from resampling it whole in the last bits: so
    # does the motion, by a few thousandths (0.004 measured).
    tolerance = 0.0 if rate == 16000 else 0.01
    assert np.abs(streamed.blendshapes[:, learned] - offline.blendshapes[:, learned]).max() <= tolerance
    # The channels filled in by the procedural generator follow its own audio analysis, which
    # varies a little with the cut (0.018 at most here).
    assert np.abs(streamed.blendshapes - offline.blendshapes).max() < 0.05


def test_learned_channels_come_from_the_model_and_the_rest_stay_procedural(tiny_checkpoint, real_clip):
    generator = FlowGenerator(tiny_checkpoint, device="cpu")
    procedural = load_generator("procedural")
    pcm = real_clip.pcm[:16000 * 3]
    flow = generator.generate(pcm, 16000, 30.0, seed=2)
    stream = procedural.start(30.0, 16000, MotionParams(), seed=2)
    plain = Track.concatenate([stream.push(pcm), stream.finish()], 30.0)
    learned = [i for i in generator.model.config.learned if i < 52]
    others = [i for i in range(52) if i not in learned]
    assert np.allclose(flow.blendshapes[:, others], plain.blendshapes[:, others])
    assert np.allclose(flow.head, plain.head)          # facegood has no head: procedural head motion
    assert not np.allclose(flow.blendshapes[:, learned], plain.blendshapes[:, learned])


def test_a_server_serves_the_flow_model(tiny_checkpoint):
    from avbridge.client import Client
    from conftest import make_server
    server = make_server(voice="espeak", motion=f"flow:{tiny_checkpoint}")
    try:
        with Client(server.endpoint, timeout=30) as client:
            session = client.open(fps=30.0, realtime=False)
            result = session.say("Maybe the baker bought a map.", timeout=60)
            assert len(result.track) == frames_covering(len(result.pcm), 30.0, result.sample_rate)
            assert result.track.blendshapes[:, JAW].std() > 1e-3
    finally:
        server.stop()


def test_a_conversation_clip_conditions_on_the_other_person(tmp_path, real_clip):
    import dataclasses

    from avbridge.datasets import corpus
    other = np.resize(read_wav_mono(DATA / "beat_scott_excerpt.wav")[0], len(real_clip.pcm))
    face = np.zeros((len(real_clip.motion), 55), np.float32)
    face[:, 17] = np.linspace(0, 1, len(face))
    dyadic = dataclasses.replace(real_clip, name="dyadic", user_pcm=other, user_face=face)
    again = corpus.load(corpus.save([dyadic], tmp_path / "corpus"))[0]
    assert np.array_equal(again.user_pcm, other) and np.array_equal(again.user_face, face)
    trainer = tiny_trainer(tmp_path, [dyadic], steps=30)
    for _ in range(30):
        trainer.train_step()
    assert trainer.model.config.uses_user
    heard = generate_clip(trainer.model, dyadic, seed=1)
    alone = generate_clip(trainer.model, dataclasses.replace(dyadic, user_pcm=None, user_face=None), seed=1)
    assert np.abs(heard - alone).max() > 1e-4


def test_the_train_and_dataset_commands(tmp_path, capsys):
    from avbridge.cli import main
    out = tmp_path / "run"
    common = ["--data", f"corpus:{tmp_path / 'corpus'}", "--val", "synthetic_002", "--size", "tiny",
              "--steps-per-epoch", "5", "--out", str(out), "--no-progress", "--device", "cpu"]
    assert main(["dataset", "--data", "synthetic:3", "--out", str(tmp_path / "corpus")]) == 0
    assert main(["train", *common, "--epochs", "1"]) == 0
    assert main(["train", *common, "--epochs", "2", "--resume"]) == 0
    sidecar = json.loads(sidecar_path(out / "last.pt").read_text())
    assert [h["epoch"] for h in sidecar["history"]] == [1, 2] and sidecar["config"]["uses_tokens"]
    assert sidecar["data"]["val"] == ["synthetic_002"]
    assert main(["train", *common, "--size", "default", "--epochs", "3", "--resume"]) == 2
    assert "another network size than this run's data and options give" in capsys.readouterr().out
    assert main(["train", "--data", "synthetic:1", "--val", "nope", "--out", str(out)]) == 2
    assert "held-out clip(s) not in the data: nope" in capsys.readouterr().out
    assert main(["say", "Hello.", "--voice", "espeak", "--motion", f"flow:{tmp_path / 'missing.pt'}",
                 "--out", str(tmp_path / "take")]) == 2
    assert "missing.pt: no such checkpoint" in capsys.readouterr().err


def test_a_sentence_leaves_window_by_window_in_media_time_order(tiny_checkpoint, real_clip):
    # A say pushes a whole sentence at once; the learned generator gives its frames a window at a
    # time, and the outbox keeps them in media-time order among the sentence's audio, so the I/O
    # thread (which sends from the head) never holds a frame behind later audio.
    import time

    from avbridge.server.producers import AudioUtterance
    from avbridge.server.session import Session, Utterance
    from avbridge.speech import load_engine
    session = Session("s1", b"client", 30.0, load_engine("espeak"), FlowGenerator(tiny_checkpoint, device="cpu"),
                      MotionParams(), time.monotonic, realtime=False)
    utt = Utterance("u1", 1, "audio")
    stream = AudioUtterance(session, utt, 16000)
    stream.push(real_clip.pcm[:16000 * 3], final=True)
    times = [o.media_time for o in session.outbox]
    assert times == sorted(times)
    frames = [o for o in session.outbox if o.message.type == "frames"]
    assert sum(o.message.fields["count"] for o in frames) == frames_covering(16000 * 3, 30.0, 16000)
    assert session.outbox[-1].message.type == "end"
