"""The learned motion model as one object: network, flow matching, normalisation, windowing, and
its checkpoint on disk (weights in a .pt file, config and format version in a JSON sidecar).

A window covers `context` frames already given out (read as the known prefix), `window` new frames
and `lookahead` frames after them; only the new frames are kept. So each window sees the last
two-thirds of a second it joined onto, and 67 ms of the speech to come (at 30 fps).

Shapes (T = frames in a window, at `fps`):
    sample_window(audio (T, AUDIO_DIM) raw log-mel, tokens (T,), prefix (T, MOTION_DIM) in
    natural units, known (T,) bool, user (T, USER_DIM), noise (T, MOTION_DIM)) -> (T, MOTION_DIM)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from avbridge.motion.flow import CheckpointError
from avbridge.motion.flow.cfm import ConditionalFlowMatching
from avbridge.motion.flow.dit import DiTConfig, TwoStreamDiT
from avbridge.motion.flow.features import AUDIO_DIM, MOTION_DIM, NO_TOKEN

FORMAT_VERSION = 1
FORMAT = "avbridge-flow-motion"


@dataclass
class FlowConfig:
    fps: float = 30.0
    context: int = 20
    window: int = 10
    lookahead: int = 2
    steps: int = 8
    guidance: float = 1.0
    uses_tokens: bool = False          # the training data had phoneme timelines
    uses_user: bool = False            # the training data had a listener's audio or face
    learned: list[int] = field(default_factory=lambda: list(range(MOTION_DIM)))   # channels it makes
    audio_mean: list[float] = field(default_factory=lambda: [0.0] * AUDIO_DIM)
    audio_std: list[float] = field(default_factory=lambda: [1.0] * AUDIO_DIM)
    motion_mean: list[float] = field(default_factory=lambda: [0.0] * MOTION_DIM)
    motion_std: list[float] = field(default_factory=lambda: [1.0] * MOTION_DIM)
    dit: DiTConfig = field(default_factory=DiTConfig)

    @property
    def span(self) -> int:
        return self.context + self.window + self.lookahead

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FlowConfig":
        d = dict(d)
        d["dit"] = DiTConfig(**d.get("dit", {}))
        return cls(**d)


class FlowMotionModel:
    def __init__(self, config: FlowConfig, device: str | torch.device = "cpu") -> None:
        self.config = config
        self.device = torch.device(device)
        self.net = TwoStreamDiT(config.dit).to(self.device)
        self.cfm = ConditionalFlowMatching()
        self._stats()

    def _stats(self) -> None:
        c = self.config
        as_tensor = lambda v: torch.tensor(v, dtype=torch.float32, device=self.device)  # noqa: E731
        self.audio_mean, self.audio_std = as_tensor(c.audio_mean), as_tensor(c.audio_std)
        self.motion_mean, self.motion_std = as_tensor(c.motion_mean), as_tensor(c.motion_std)

    def set_statistics(self, audio_mean, audio_std, motion_mean, motion_std) -> None:
        c = self.config
        c.audio_mean, c.audio_std = [float(v) for v in audio_mean], [float(v) for v in audio_std]
        c.motion_mean, c.motion_std = [float(v) for v in motion_mean], [float(v) for v in motion_std]
        self._stats()

    # -- tensors in normalised units ------------------------------------------------------
    def conditions(self, audio: torch.Tensor, tokens: torch.Tensor, prefix: torch.Tensor,
                   known: torch.Tensor, user: torch.Tensor) -> dict:
        """Batched raw inputs (B, T, .) -> the estimator's keyword arguments."""
        if not self.config.uses_tokens:
            tokens = torch.full_like(tokens, NO_TOKEN)
        if not self.config.uses_user:
            user = torch.zeros_like(user)
        else:   # the user's log-mel is normalised like the avatar's own, where it is present
            heard = user[..., -2:-1]
            user = torch.cat([(user[..., :AUDIO_DIM] - self.audio_mean) / self.audio_std * heard,
                              user[..., AUDIO_DIM:]], dim=-1)
        known = known.to(prefix.dtype)[..., None] if known.dim() == 2 else known.to(prefix.dtype)
        return {"audio": (audio - self.audio_mean) / self.audio_std, "tokens": tokens,
                "prefix": self.normalise(prefix) * known, "known": known, "user": user}

    @staticmethod
    def unconditional(conditions: dict) -> dict:
        """The same inputs without the speech (for classifier-free guidance and its training)."""
        return {**conditions, "audio": torch.zeros_like(conditions["audio"]),
                "tokens": torch.full_like(conditions["tokens"], NO_TOKEN)}

    def normalise(self, motion: torch.Tensor) -> torch.Tensor:
        return (motion - self.motion_mean) / self.motion_std

    def denormalise(self, motion: torch.Tensor) -> torch.Tensor:
        return motion * self.motion_std + self.motion_mean

    def sample_window(self, audio: np.ndarray, tokens: np.ndarray, prefix: np.ndarray, known: np.ndarray,
                      user: np.ndarray, noise: np.ndarray, steps: int | None = None,
                      guidance: float | None = None) -> np.ndarray:
        c = self.config
        as_batch = lambda a, dtype=torch.float32: torch.as_tensor(np.asarray(a), dtype=dtype, device=self.device)[None]  # noqa: E731
        conditions = self.conditions(as_batch(audio), as_batch(tokens, torch.int64), as_batch(prefix),
                                     as_batch(known), as_batch(user))
        guidance = c.guidance if guidance is None else guidance
        self.net.eval()
        x = self.cfm.sample(self.net, as_batch(noise), conditions, steps or c.steps, guidance,
                            self.unconditional(conditions) if guidance != 1.0 else None)
        return self.denormalise(x)[0].cpu().numpy()

    # -- checkpoint -----------------------------------------------------------------------
    def save(self, path: str | Path, training: dict | None = None) -> Path:
        """Write PATH (weights, and the training state when given) and PATH.json (the sidecar)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "config": self.config.to_dict(),
                   "weights": self.net.state_dict()}
        if training is not None:
            payload["training"] = training
        temporary = path.with_name(path.name + ".tmp")
        torch.save(payload, temporary)
        temporary.replace(path)      # a run killed mid-write leaves the previous checkpoint whole
        sidecar = {"format": FORMAT, "format_version": FORMAT_VERSION, "config": self.config.to_dict(),
                   "parameters": sum(p.numel() for p in self.net.parameters())}
        if training is not None:
            sidecar["history"] = training.get("history", [])
            sidecar["epoch"] = training.get("epoch")
            sidecar["data"] = training.get("data")
        sidecar_path(path).write_text(json.dumps(sidecar, indent=1))
        return path

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> tuple["FlowMotionModel", dict | None]:
        """-> (model, training state or None). Raises CheckpointError with the reason."""
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"{path}: no such checkpoint")
        try:
            # weights_only: a checkpoint is tensors and plain containers, so loading one that came
            # from elsewhere cannot run code (a full pickle could).
            payload = torch.load(path, map_location=device, weights_only=True)
        except Exception as exc:  # torch raises many kinds for a file that is not a checkpoint
            raise CheckpointError(f"{path}: not a readable checkpoint ({exc.__class__.__name__}: {exc})") from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise CheckpointError(f"{path}: not an avbridge flow-motion checkpoint")
        if payload.get("format_version") != FORMAT_VERSION:
            raise CheckpointError(f"{path}: format version {payload.get('format_version')}; this avbridge reads {FORMAT_VERSION}")
        model = cls(FlowConfig.from_dict(payload["config"]), device)
        try:
            model.net.load_state_dict(payload["weights"])
        except RuntimeError as exc:
            raise CheckpointError(f"{path}: weights do not fit the config ({exc})") from None
        model.net.eval()
        return model, payload.get("training")


def sidecar_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".json")
