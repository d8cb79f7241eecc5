"""`avbridge dataset` and `avbridge train`: the commands over datasets/ and training/ (main.py
parses the arguments). The command owns the process, so it, not the Trainer, sets torch's threads."""

from __future__ import annotations

import argparse
from pathlib import Path


def command(args: argparse.Namespace) -> int:
    import torch

    from avbridge.datasets import corpus
    from avbridge.datasets.corpus import DatasetError
    from avbridge.datasets.sources import load_sources, split
    from avbridge.motion.flow.model import FlowConfig
    from avbridge.training.train import SIZES, TrainConfig, Trainer
    try:
        clips = load_sources(args.data)
        if args.command == "dataset":
            folder = corpus.save(clips, args.out)
            print(f"wrote {len(clips)} clips ({sum(c.seconds for c in clips) / 60:.1f} min) to {folder}")
            return 0
        train_clips, val_clips = split(clips, args.val)
        config = TrainConfig(out=args.out, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch, batch=args.batch,
                             lr=args.lr, device=args.device, threads=args.threads, seed=args.seed,
                             flow=FlowConfig(dit=SIZES[args.size]))
        data = {"sources": args.data, "train": [c.name for c in train_clips], "val": [c.name for c in val_clips],
                "train_minutes": round(sum(c.seconds for c in train_clips) / 60, 2)}
        if config.threads:
            torch.set_num_threads(config.threads)     # the command owns the process; a Trainer does not
        trainer = Trainer(config, train_clips, val_clips, data)
        if args.resume:
            trainer.resume(Path(args.out) / "last.pt")
    except (DatasetError, ValueError) as exc:
        print(f"error: {exc}")
        return 2
    print(f"training on {len(train_clips)} clips ({data['train_minutes']} min), validating on {len(val_clips)}; "
          f"{trainer.model.net.parameter_count() / 1e6:.1f} M parameters on {trainer.device}; "
          f"learning {len(config.flow.learned)} channels")
    trainer.run(progress=not args.no_progress)
    print(f"checkpoints in {args.out}: last.pt, best.pt (serve with --motion flow:{Path(args.out) / 'best.pt'})")
    return 0
