"""Two-stream diffusion transformer: the velocity estimator of the flow-matching motion model.

After AV-Flow (Chatziagapi et al., "AV-Flow: Transforming Text to Audio-Visual Human-like
Interactions", 2025): two parallel transformer stacks, one over the speech the avatar says and
one over the motion being generated, with in-context conditioning (the noisy motion is
concatenated with the input features frame by frame, not cross-attended), rotary positions, and
after every block a learned linear "highway" that mixes the two streams' features. Attention is
bidirectional inside a window; streaming comes from the windowing in generator.py.

Differences from the paper, and why: the audio stream reads the real speech (log-mel) plus viseme
tokens from the phoneme timeline instead of character logits, so the motion is tied to the audio
the engine plays; motion is 52 ARKit weights plus head yaw/pitch/roll generated directly (no
head VAE) at the capture rate (30 fps) instead of the spectrogram rate; the visual stream also
reads a known motion prefix (the frames the previous window gave out) with its mask, which is
what makes consecutive windows join without a seam. Paper size is 512-d, 1024 hidden, 4 heads
(`DiTConfig.paper()`); the default is half that, sized for a few minutes of one actor and a CPU.

Shapes (B batch, T frames):
    x        (B, T, MOTION_DIM)   noisy motion x_t (normalised units)
    t        (B,)                 flow time in [0, 1]
    audio    (B, T, AUDIO_DIM)    normalised log-mel
    tokens   (B, T) int64         viseme tokens, NO_TOKEN where unknown
    prefix   (B, T, MOTION_DIM)   known motion (normalised), zero where unknown
    known    (B, T, 1)            1 where `prefix` holds a frame
    user     (B, T, USER_DIM)     listener features (zeros and flags 0 when absent)
    returns  (B, T, MOTION_DIM)   the velocity field v(x_t, t | conditions)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from avbridge.motion.flow.features import AUDIO_DIM, MOTION_DIM, TOKEN_COUNT, USER_DIM


@dataclass
class DiTConfig:
    dim: int = 256
    hidden: int = 512
    heads: int = 4
    depth: int = 4
    dropout: float = 0.1
    motion_dim: int = MOTION_DIM
    audio_dim: int = AUDIO_DIM
    user_dim: int = USER_DIM
    tokens: int = TOKEN_COUNT

    @classmethod
    def paper(cls) -> "DiTConfig":
        return cls(dim=512, hidden=1024, heads=4, depth=4)

    def to_dict(self) -> dict:
        return asdict(self)


def rotary_tables(length: int, head_dim: int, device, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin, (length, head_dim // 2) each, for rotary position embedding."""
    inv_freq = 1.0 / (10000 ** (torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim))
    angles = torch.arange(length, device=device, dtype=torch.float32)[:, None] * inv_freq[None, :]
    return angles.cos().to(dtype), angles.sin().to(dtype)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x (B, heads, T, head_dim): rotate each pair of channels by its position's angle."""
    even, odd = x[..., 0::2], x[..., 1::2]
    return torch.stack([even * cos - odd * sin, even * sin + odd * cos], dim=-1).flatten(-2)


class Block(nn.Module):
    """Pre-norm transformer block with rotary self-attention and a GELU MLP; the flow time
    enters as a scale, shift and gate of each branch (adaLN-Zero, as in DiT), zero-initialised so
    a fresh block is the identity."""

    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        self.heads = cfg.heads
        self.norm1 = nn.LayerNorm(cfg.dim, elementwise_affine=False)
        self.qkv = nn.Linear(cfg.dim, 3 * cfg.dim)
        self.proj = nn.Linear(cfg.dim, cfg.dim)
        self.norm2 = nn.LayerNorm(cfg.dim, elementwise_affine=False)
        self.mlp = nn.Sequential(nn.Linear(cfg.dim, cfg.hidden), nn.GELU(), nn.Linear(cfg.hidden, cfg.dim))
        self.modulation = nn.Linear(cfg.dim, 6 * cfg.dim)
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, h: torch.Tensor, time: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(time)[:, None, :].chunk(6, dim=-1)
        b, t, d = h.shape
        x = self.norm1(h) * (1 + scale1) + shift1
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        attended = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, t, d)
        h = h + gate1 * self.dropout(self.proj(attended))
        x = self.norm2(h) * (1 + scale2) + shift2
        return h + gate2 * self.dropout(self.mlp(x))


class TimeEmbedding(nn.Module):
    """Flow time t in [0, 1] -> (B, dim): sinusoids then an MLP."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
        angles = 1000.0 * t.float()[:, None] * freqs[None, :]
        return self.mlp(torch.cat([angles.sin(), angles.cos()], dim=-1).to(t.dtype if t.is_floating_point() else torch.float32))


class TwoStreamDiT(nn.Module):
    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.time = TimeEmbedding(cfg.dim)
        self.audio_in = nn.Linear(cfg.audio_dim, cfg.dim)
        self.token_in = nn.Embedding(cfg.tokens, cfg.dim)
        self.motion_in = nn.Linear(2 * cfg.motion_dim + 1 + cfg.user_dim, cfg.dim)
        self.audio_blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.motion_blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        # Highway fusion: a linear map of both streams added back to each, zero-initialised so
        # training starts from two independent stacks and learns how much to mix.
        fusion = [nn.Linear(2 * cfg.dim, 2 * cfg.dim) for _ in range(cfg.depth)]
        for layer in fusion:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        self.fusion = nn.ModuleList(fusion)
        self.out_norm = nn.LayerNorm(cfg.dim)
        self.out = nn.Linear(cfg.dim, cfg.motion_dim)

    def forward(self, x: torch.Tensor, t: torch.Tensor, audio: torch.Tensor, tokens: torch.Tensor,
                prefix: torch.Tensor, known: torch.Tensor, user: torch.Tensor) -> torch.Tensor:
        time = self.time(t)
        a = self.audio_in(audio) + self.token_in(tokens)
        m = self.motion_in(torch.cat([x, prefix, known, user], dim=-1))
        cos, sin = rotary_tables(x.shape[1], self.cfg.dim // self.cfg.heads, x.device, x.dtype)
        for audio_block, motion_block, fuse in zip(self.audio_blocks, self.motion_blocks, self.fusion):
            a, m = audio_block(a, time, cos, sin), motion_block(m, time, cos, sin)
            mixed_a, mixed_m = fuse(torch.cat([a, m], dim=-1)).chunk(2, dim=-1)
            a, m = a + mixed_a, m + mixed_m
        return self.out(self.out_norm(m))

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())
