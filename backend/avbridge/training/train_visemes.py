"""Training the streaming viseme recogniser (perception/viseme_net.py) on speechocean762.

`prepare` turns every aligned training utterance into its features exactly as the stream computes
them (log-mel, the running mean removed, the first and last frames standing in for the context
beyond the ends), once clean and `copies` times augmented (datasets/speechocean.py), with the
viseme under each frame. `train` fits the perceptron with cross-entropy on random frames, scores
the held-out speakers (clean) after each epoch, keeps the best epoch, and writes `last.pt` each
epoch so a cut-off run resumes. `export` writes the numpy checkpoint the package ships.

About 40 minutes on two CPU cores from a cold cache: 27 to align, 4 to prepare, 6 to train.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch

from avbridge.core.audio import read_wav
from avbridge.datasets import speechocean
from avbridge.motion.visemes import VISEME_INDEX, VISEMES, viseme_of
from avbridge.perception import viseme_net as vn

log = logging.getLogger(__name__)
SPAN = vn.CONTEXT_PAST + 1 + vn.LOOKAHEAD


def _label(symbol: str) -> int:
    return VISEME_INDEX[viseme_of(symbol)]


def utterance_features(pcm: np.ndarray, start_mean: np.ndarray) -> np.ndarray:
    """(T + CONTEXT_PAST + LOOKAHEAD, 40): what the stream's perceptron sees of a whole utterance."""
    normalised, _ = vn.running_mean_removed(vn.log_mel(pcm), start_mean)
    return vn.edge_padded(normalised)


def prepare(root: str | Path, cache: str | Path, copies: int = 1, seed: int = 0,
            max_utterances: int | None = None) -> dict[str, np.ndarray]:
    """Features and labels: `features` (F, 40) padded utterances end to end, `centres` (N,) the
    row of each labelled frame, `labels` (N,), and `test` (N,) whether it is a held-out speaker's
    frame (never augmented)."""
    rng = np.random.default_rng(seed)
    items = speechocean.utterances(root)
    aligned = speechocean.align(items, cache, progress=lambda i, n: log.info("aligned %d of %d", i, n))
    items = [u for u in items if u.id in aligned]
    # The corpus's own split puts half the speakers in its test set: one in five of them is held
    # out (never trained on, never augmented); the rest train with the train speakers.
    test_speakers = sorted({u.speaker for u in items if u.split == "test"})
    held_out = set(test_speakers[::5])
    if max_utterances:
        items = [items[i] for i in sorted(rng.choice(len(items), min(max_utterances, len(items)), replace=False))]
    audio = {u.id: read_wav(u.path)[0] for u in items}
    sample = [vn.log_mel(audio[u.id]) for u in items[:: max(1, len(items) // 300)]]
    start_mean = np.concatenate(sample).mean(axis=0).astype(np.float32)
    babble_pool = [audio[u.id] for u in items[:: max(1, len(items) // 200)]]

    def babble():
        while True:
            yield babble_pool[int(rng.integers(len(babble_pool)))]

    chunks, centres, labels, test = [], [], [], []
    row = 0
    babble_stream = babble()
    for n, u in enumerate(items):
        versions = [(audio[u.id], aligned[u.id])]
        is_test = u.speaker in held_out
        if not is_test:
            versions += [speechocean.augmented(audio[u.id], aligned[u.id], rng, babble_stream) for _ in range(copies)]
        for pcm, phones in versions:
            features = utterance_features(pcm, start_mean)
            frames = len(features) - vn.CONTEXT_PAST - vn.LOOKAHEAD
            chunks.append(features)
            centres.append(row + vn.CONTEXT_PAST + np.arange(frames))
            labels.append(speechocean.frame_labels(phones, frames, _label))
            test.append(np.full(frames, is_test))
            row += len(features)
        if n % 500 == 0:
            log.info("prepared %d of %d utterances", n, len(items))
    return {"features": np.concatenate(chunks), "centres": np.concatenate(centres),
            "labels": np.concatenate(labels), "test": np.concatenate(test), "start_mean": start_mean}


class Perceptron(torch.nn.Module):
    def __init__(self, hidden: int = 256) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(SPAN * vn.N_MELS, hidden), torch.nn.ReLU(), torch.nn.Dropout(0.1),
            torch.nn.Linear(hidden, hidden), torch.nn.ReLU(), torch.nn.Dropout(0.1),
            torch.nn.Linear(hidden, len(VISEMES)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _windows(features: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    offsets = torch.arange(-vn.CONTEXT_PAST, vn.LOOKAHEAD + 1)
    return features[centres[:, None] + offsets[None, :]].reshape(len(centres), -1)


def train(data: dict[str, np.ndarray], out: str | Path, epochs: int = 8, steps_per_epoch: int = 2000,
          batch: int = 512, hidden: int = 256, seed: int = 0, closure_weight: float = 2.0) -> dict[str, float]:
    """Fit, score and checkpoint (see the module). `closure_weight` counts the p/b/m frames that
    much more in the loss: a missed closure is the error a viewer sees first."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    features = torch.from_numpy(data["features"])
    train_rows = np.flatnonzero(~data["test"])
    test_rows = np.flatnonzero(data["test"])
    test_rows = test_rows[:: max(1, len(test_rows) // 100_000)]
    # Per-dimension normalisation of the stacked features, from the training frames.
    mean = data["features"].mean(axis=0)
    std = data["features"].std(axis=0) + 1e-3
    offset, scale = np.tile(mean, SPAN).astype(np.float32), np.tile(1.0 / std, SPAN).astype(np.float32)
    model = Perceptron(hidden)
    optimiser = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    total = epochs * steps_per_epoch
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=2e-3, total_steps=total)
    start_epoch, best = 0, {"accuracy": -1.0}
    if (out / "last.pt").is_file():
        state = torch.load(out / "last.pt", weights_only=False)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        schedule.load_state_dict(state["schedule"])
        start_epoch, best = state["epoch"] + 1, state["best"]
        rng = np.random.default_rng(seed + start_epoch)
    weights = torch.ones(len(VISEMES))
    weights[VISEME_INDEX["PP"]] = closure_weight
    centres = torch.from_numpy(data["centres"])
    labels = torch.from_numpy(data["labels"])
    off_t, scale_t = torch.from_numpy(offset), torch.from_numpy(scale)
    for epoch in range(start_epoch, epochs):
        model.train()
        began, running = time.time(), 0.0
        for _ in range(steps_per_epoch):
            pick = torch.from_numpy(rng.choice(train_rows, batch))
            x = (_windows(features, centres[pick]) - off_t) * scale_t
            loss = torch.nn.functional.cross_entropy(model(x), labels[pick], weight=weights, label_smoothing=0.05)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            running += float(loss.detach())
        scores = evaluate(model, features, centres[test_rows], labels[test_rows], off_t, scale_t)
        scores["loss"] = running / steps_per_epoch
        log.info("epoch %d: loss %.3f, test accuracy %.3f, PP recall %.3f precision %.3f (%.0f s)", epoch,
                 scores["loss"], scores["accuracy"], scores["pp_recall"], scores["pp_precision"],
                 time.time() - began)
        if scores["accuracy"] > best["accuracy"]:
            best = {**scores, "epoch": float(epoch)}
            export(model, offset, scale, data["start_mean"], out / "viseme_net.npz")
        torch.save({"model": model.state_dict(), "optimiser": optimiser.state_dict(),
                    "schedule": schedule.state_dict(), "epoch": epoch, "best": best}, out / "last.pt")
    return best


@torch.no_grad()
def evaluate(model: torch.nn.Module, features: torch.Tensor, centres: torch.Tensor, labels: torch.Tensor,
             offset: torch.Tensor, scale: torch.Tensor) -> dict[str, float]:
    model.eval()
    guesses = torch.cat([model((_windows(features, c) - offset) * scale).argmax(dim=1)
                         for c in centres.split(8192)])
    pp = VISEME_INDEX["PP"]
    hit = (guesses == pp) & (labels == pp)
    return {"accuracy": float((guesses == labels).float().mean()),
            "pp_recall": float(hit.sum() / max(int((labels == pp).sum()), 1)),
            "pp_precision": float(hit.sum() / max(int((guesses == pp).sum()), 1))}


def export(model: Perceptron, offset: np.ndarray, scale: np.ndarray, start_mean: np.ndarray, path: Path) -> None:
    """The numpy checkpoint VisemeNet loads: float16 weights (half the size, the same classes)."""
    linears = [m for m in model.net if isinstance(m, torch.nn.Linear)]
    arrays = {}
    for i, layer in enumerate(linears):
        arrays[f"w{i}"] = layer.weight.detach().numpy().T.astype(np.float16)
        arrays[f"b{i}"] = layer.bias.detach().numpy().astype(np.float32)
    np.savez_compressed(path, offset=offset, scale=scale, start_mean=start_mean,
                        classes=np.array(VISEMES), **arrays)
