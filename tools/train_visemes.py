"""Train the streaming viseme recogniser that the package ships (perception/viseme_net.npz).

    .venv/bin/python tools/train_visemes.py --corpus DIR [--out runs/visemes] [--epochs 8]

  --corpus DIR  a checkout of speechocean762 (public repository jimbozhang/speechocean762: WAVE,
                train, test); the PocketSphinx alignment is cached in OUT/alignment.json
  --out DIR     last.pt each epoch (a cut-off run resumes from it) and viseme_net.npz, the best
                epoch by frame accuracy on the corpus's test speakers

Copy OUT/viseme_net.npz to backend/avbridge/perception/ to ship it (training/train_visemes.py says
what it does; docs/quality.md "Real speech" what it scores).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from avbridge.training import train_visemes  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--out", default="runs/visemes")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--steps", type=int, default=2000, help="steps per epoch")
    parser.add_argument("--copies", type=int, default=1, help="augmented copies of each training utterance")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--closure-weight", type=float, default=2.0, help="loss weight of p/b/m frames")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    out = Path(args.out)
    data = train_visemes.prepare(args.corpus, out / "alignment.json", copies=args.copies)
    best = train_visemes.train(data, out, epochs=args.epochs, steps_per_epoch=args.steps, hidden=args.hidden,
                               closure_weight=args.closure_weight)
    print("best epoch:", {k: round(v, 3) for k, v in best.items()})


if __name__ == "__main__":
    main()
