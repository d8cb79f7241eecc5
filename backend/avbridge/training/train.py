"""Training the flow motion model on a corpus of clips (`avbridge train`).

Each step draws a batch of windows the way inference runs them: a random crop of
`context + new + lookahead` frames, where `new` is 4 to `window` frames (so a served model may use
shorter windows for less latency) and the first `context` frames are given as the known prefix
in most crops (none in some, as at an utterance's start; a random part in others). The loss is L1
flow matching over the frames not given, on channels the capture measured, on frames where the
tracking held. Speech is dropped from 10% of crops (classifier-free guidance) and its level moved
by up to +-6 dB.

An epoch is `steps_per_epoch` steps; after each, the held-out clips are scored (flow loss on fixed
crops, and the whole clips generated window by window with 8 Euler steps: lip-closure F1 and jaw
correlation against the real animation, Fréchet distance of the blendshapes) and `last.pt` is
written, with `best.pt` when the validation loss improves. `resume` picks up from `last.pt`:
weights, optimiser, step, random state and history.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from avbridge.datasets.corpus import Clip, DatasetError
from avbridge.motion.flow.dit import DiTConfig
from avbridge.motion.flow.features import (
    AUDIO_DIM,
    MOTION_DIM,
    NO_TOKEN,
    USER_DIM,
    audio_features,
    resample_frames,
    user_features,
    viseme_tokens,
)
from avbridge.motion.flow.generator import WindowedSampler
from avbridge.motion.flow.model import FlowConfig, FlowMotionModel
from avbridge.motion.metrics import (
    closure_f1_against,
    correlation,
    frechet_distance,
    speech_frames,
)

log = logging.getLogger("avbridge.train")

_JAW = 17


@dataclass
class TrainConfig:
    out: str = "runs/flow"
    epochs: int = 20
    steps_per_epoch: int = 400
    batch: int = 32
    lr: float = 3e-4
    warmup_steps: int = 300
    weight_decay: float = 0.01
    speech_dropout: float = 0.1
    seed: int = 0
    device: str = "auto"
    threads: int = 0                     # torch CPU threads; 0 = torch's default
    val_crops: int = 64
    min_std: float = 0.02                # floor of a channel's normalising std
    flow: FlowConfig = field(default_factory=FlowConfig)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Prepared:
    """A clip at the model's rate, ready to crop."""
    name: str
    audio: np.ndarray       # (T, AUDIO_DIM)
    tokens: np.ndarray      # (T,)
    motion: np.ndarray      # (T, MOTION_DIM)
    weight: np.ndarray      # (T, MOTION_DIM) 1 where a value is real
    user: np.ndarray        # (T, USER_DIM) the other person in a conversation, zeros when absent
    clip: Clip


def prepare(clip: Clip, fps: float) -> Prepared:
    frames = int(round(len(clip.motion) * fps / clip.fps))
    motion = resample_frames(clip.motion, clip.fps, fps, frames)
    valid = resample_frames(clip.valid[:, None].astype(np.float32), clip.fps, fps, frames)[:, 0] > 0.999
    audio = audio_features(clip.pcm, 0, frames, fps)
    tokens = viseme_tokens(clip.phonemes, frames, fps) if clip.phonemes is not None else np.full(frames, NO_TOKEN)
    weight = valid[:, None] & clip.measured[None, :]
    user_audio = audio_features(clip.user_pcm, 0, frames, fps) if clip.user_pcm is not None else None
    user_face = resample_frames(clip.user_face, clip.fps, fps, frames) if clip.user_face is not None else None
    user = user_features(user_audio, user_face, frames)
    return Prepared(clip.name, audio, tokens, motion.astype(np.float32), weight.astype(np.float32), user, clip)


def statistics(prepared: list[Prepared], min_std: float) -> tuple[np.ndarray, ...]:
    audio = np.concatenate([p.audio for p in prepared])
    motion = np.concatenate([p.motion for p in prepared])
    weight = np.concatenate([p.weight for p in prepared])
    count = weight.sum(axis=0).clip(1)
    motion_mean = (motion * weight).sum(axis=0) / count
    motion_std = np.sqrt((((motion - motion_mean) ** 2) * weight).sum(axis=0) / count)
    return audio.mean(axis=0), audio.std(axis=0) + 1e-3, motion_mean, np.maximum(motion_std, min_std), motion_std


class Batches:
    """Random training windows, and a fixed set for validation."""

    def __init__(self, prepared: list[Prepared], flow: FlowConfig, learned: np.ndarray) -> None:
        self.prepared = prepared
        self.flow = flow
        self.learned = learned.astype(np.float32)
        lengths = np.array([len(p.motion) for p in prepared], np.float64)
        if (lengths < flow.span).any():
            short = [p.name for p, n in zip(prepared, lengths) if n < flow.span]
            raise DatasetError(f"clips shorter than one window ({flow.span} frames): {', '.join(short)}")
        self.weights = lengths / lengths.sum()

    def draw(self, rng: np.random.Generator, size: int, speech_dropout: float = 0.0, gain_db: float = 0.0) -> dict:
        f = self.flow
        items: list[tuple] = []
        for _ in range(size):
            clip = self.prepared[rng.choice(len(self.prepared), p=self.weights)]
            new = int(rng.integers(4, f.window + 1))
            roll = rng.random()
            given = f.context if roll < 0.6 else 0 if roll < 0.8 else int(rng.integers(1, f.context + 1))
            span = given + new + f.lookahead
            start = int(rng.integers(0, len(clip.motion) - span + 1))
            window = slice(start, start + span)
            known = np.arange(span) < given
            audio = clip.audio[window] + (2 * gain_db / 20 * rng.uniform(-1, 1))   # log10 power: 2/20 per dB
            tokens = clip.tokens[window]
            if rng.random() < speech_dropout:       # no speech: the model learns the unconditional flow (CFG)
                audio, tokens = None, np.full(span, NO_TOKEN)  # type: ignore[assignment]
            weight = clip.weight[window] * self.learned[None, :] * (~known)[:, None]
            items.append((audio, tokens, clip.motion[window], known, weight, clip.user[window], span))
        return self._collate(items)

    def _collate(self, items) -> dict:
        longest = max(item[-1] for item in items)
        b = len(items)
        out = {"audio": np.zeros((b, longest, AUDIO_DIM), np.float32), "tokens": np.zeros((b, longest), np.int64),
               "motion": np.zeros((b, longest, MOTION_DIM), np.float32), "known": np.zeros((b, longest), bool),
               "weight": np.zeros((b, longest, MOTION_DIM), np.float32), "dropped": np.zeros(b, bool),
               "user": np.zeros((b, longest, USER_DIM), np.float32)}
        # Shorter windows are padded at the end with zero weight; attention still sees the padding,
        # as a window at an utterance's end sees silence after it.
        for i, (audio, tokens, motion, known, weight, user, span) in enumerate(items):
            out["dropped"][i] = audio is None
            if audio is not None:
                out["audio"][i, :span] = audio
            out["tokens"][i, :span], out["motion"][i, :span] = tokens, motion
            out["known"][i, :span], out["weight"][i, :span] = known, weight
            out["user"][i, :span] = user
        return out


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class Trainer:
    def __init__(self, config: TrainConfig, train_clips: list[Clip], val_clips: list[Clip], data: dict | None = None) -> None:
        if not train_clips:
            raise DatasetError("no training clips")
        self.config = config
        self.data = data or {}
        self.device = _device(config.device)
        flow = config.flow
        self.train = [prepare(c, flow.fps) for c in train_clips]
        self.val = [prepare(c, flow.fps) for c in val_clips]
        audio_mean, audio_std, motion_mean, motion_std, raw_std = statistics(self.train, config.min_std)
        measured = np.any([c.measured for c in train_clips], axis=0)
        # A channel is learned when a capture measured it and it moves; the rest stay procedural.
        learned = measured & (raw_std > 1e-3)
        flow.learned = [int(i) for i in np.flatnonzero(learned)]
        flow.uses_tokens = any(c.phonemes is not None for c in train_clips)
        flow.uses_user = any(c.user_pcm is not None or c.user_face is not None for c in train_clips)
        self.model = FlowMotionModel(flow, self.device)
        self.model.set_statistics(audio_mean, audio_std, motion_mean, motion_std)
        self.batches = Batches(self.train, flow, learned)
        self.val_batches = Batches(self.val, flow, learned) if self.val else None
        self.optimizer = torch.optim.AdamW(self.model.net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.step = 0
        self.epoch = 0
        self.history: list[dict] = []
        self.rng = np.random.default_rng(config.seed)
        self.torch_rng = torch.Generator(device=self.device).manual_seed(config.seed)
        self.best = float("inf")

    # -- resume ---------------------------------------------------------------------------
    def state(self) -> dict:
        return {"optimizer": self.optimizer.state_dict(), "step": self.step, "epoch": self.epoch,
                "history": self.history, "best": self.best, "rng": self.rng.bit_generator.state,
                "torch_rng": self.torch_rng.get_state(), "train_config": self.config.to_dict(), "data": self.data}

    def resume(self, path: str | Path) -> None:
        model, state = FlowMotionModel.load(path, self.device)
        if state is None:
            raise DatasetError(f"{path}: holds no training state to resume from")
        if model.config.learned != self.config.flow.learned or model.config.dit != self.config.flow.dit:
            raise DatasetError(f"{path}: was trained on other channels or another network size than this "
                               "run's data and options give; resume with the same --data and --size")
        # Normalisation stays the run's own, even if the data were read again a little differently.
        c = model.config
        self.model.set_statistics(c.audio_mean, c.audio_std, c.motion_mean, c.motion_std)
        self.model.net.load_state_dict(model.net.state_dict())
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.epoch, self.history, self.best = state["step"], state["epoch"], state["history"], state["best"]
        self.rng.bit_generator.state = state["rng"]
        self.torch_rng.set_state(state["torch_rng"])

    # -- training -------------------------------------------------------------------------
    def _tensors(self, batch: dict) -> tuple[torch.Tensor, dict, torch.Tensor]:
        as_t = lambda a, dtype=torch.float32: torch.as_tensor(a, dtype=dtype, device=self.device)  # noqa: E731
        conditions = self.model.conditions(as_t(batch["audio"]), as_t(batch["tokens"], torch.int64),
                                           as_t(batch["motion"]), as_t(batch["known"]), as_t(batch["user"]))
        dropped = as_t(batch["dropped"])[:, None, None]
        conditions["audio"] = conditions["audio"] * (1 - dropped)     # dropped speech reads as zeros
        return self.model.normalise(as_t(batch["motion"])), conditions, as_t(batch["weight"])

    def _lr(self) -> float:
        c = self.config
        total = c.epochs * c.steps_per_epoch
        if self.step < c.warmup_steps:
            return c.lr * (self.step + 1) / c.warmup_steps
        progress = (self.step - c.warmup_steps) / max(1, total - c.warmup_steps)
        return float(c.lr * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * min(progress, 1.0)))))

    def train_step(self) -> float:
        c = self.config
        self.model.net.train()
        x1, conditions, weight = self._tensors(self.batches.draw(self.rng, c.batch, c.speech_dropout, 6.0))
        loss = self.model.cfm.loss(self.model.net, x1, conditions, weight, self.torch_rng)
        for group in self.optimizer.param_groups:
            group["lr"] = self._lr()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.net.parameters(), 1.0)
        self.optimizer.step()
        self.step += 1
        return float(loss.detach())

    @torch.no_grad()
    def validation_loss(self) -> float | None:
        if self.val_batches is None:
            return None
        self.model.net.eval()
        rng = np.random.default_rng(12345)
        generator = torch.Generator(device=self.device).manual_seed(12345)
        x1, conditions, weight = self._tensors(self.val_batches.draw(rng, self.config.val_crops))
        return float(self.model.cfm.loss(self.model.net, x1, conditions, weight, generator))

    def run(self, progress: bool = True) -> list[dict]:
        from tqdm import tqdm
        c = self.config
        out = Path(c.out)
        while self.epoch < c.epochs:
            started = time.time()
            losses = []
            bar = tqdm(range(c.steps_per_epoch), desc=f"epoch {self.epoch + 1}/{c.epochs}", disable=not progress,
                       leave=False, unit="step")
            for _ in bar:
                losses.append(self.train_step())
                bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
            self.epoch += 1
            record: dict[str, Any] = {"epoch": self.epoch, "step": self.step, "train_loss": float(np.mean(losses)),
                      "val_loss": self.validation_loss(), "seconds": round(time.time() - started, 1)}
            record.update(evaluate(self.model, [p.clip for p in self.val]) if self.val else {})
            self.history.append(record)
            log.info("epoch %d: %s", self.epoch, ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                                           for k, v in record.items() if k != "epoch"))
            self.model.save(out / "last.pt", self.state())
            score = float(record["val_loss"] if record["val_loss"] is not None else record["train_loss"])
            if score < self.best:
                self.best = score
                self.model.save(out / "best.pt", self.state())
        return self.history


def generate_clip(model: FlowMotionModel, clip: Clip, seed: int = 0, steps: int | None = None,
                  guidance: float | None = None) -> np.ndarray:
    """The model's motion for a clip's audio (and timeline), window by window -> (T, MOTION_DIM)
    at the model's fps."""
    user = None
    if clip.user_pcm is not None or clip.user_face is not None:
        heard = prepare(clip, model.config.fps).user
        user = lambda first, span: np.pad(heard[first:first + span], ((0, max(0, first + span - len(heard))), (0, 0)))  # noqa: E731
    sampler = WindowedSampler(model, seed, steps, guidance=guidance, user=user)   # nothing released: keeps every frame
    sampler.add(clip.pcm, clip.phonemes or ())
    sampler.run(final=True)
    return sampler.motion


def evaluate(model: FlowMotionModel, clips: list[Clip], seed: int = 0) -> dict:
    """Generated against real motion on held-out clips: lip-closure F1, jaw r, Fréchet distance."""
    fps = model.config.fps
    predicted, reference, speech = [], [], []
    for clip in clips:
        motion = generate_clip(model, clip, seed)
        real = resample_frames(clip.motion, clip.fps, fps, len(motion))
        predicted.append(motion[:, :52])
        reference.append(real[:, :52])
        speech.append(speech_frames(clip.pcm, len(motion), fps))
    p, r, s = np.concatenate(predicted), np.concatenate(reference), np.concatenate(speech)
    score = closure_f1_against(p, r, s)
    learned = [i for i in model.config.learned if i < 52]
    return {"lip_f1": score.f1, "lip_precision": score.precision, "lip_recall": score.recall,
            "jaw_r": correlation(p[:, _JAW], r[:, _JAW]), "frechet": frechet_distance(p[:, learned], r[:, learned])}


SIZES = {"tiny": DiTConfig(dim=64, hidden=128, heads=4, depth=2, dropout=0.0), "default": DiTConfig(),
         "paper": DiTConfig.paper()}
