"""Convert the ARKit reference face (../shared/data/arkit_rig/ARKit_reference_blendshapes.zip: a
neutral OBJ and one OBJ per ARKit blendshape) into the package's compact preview asset,
backend/avbridge/render/arkit_face.npz: neutral vertices, per-shape vertex offsets (float16) in
avbridge's blendshape order, and triangles.

    python tools/make_face_asset.py [ZIP]

Source: yunik1004/SAiD @ bb7b1801, data/ARKit_reference_blendshapes.zip, Apache-2.0.
"""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from avbridge.core.arkit import ARKIT_BLENDSHAPES  # noqa: E402

DEFAULT_ZIP = ROOT.parent / "shared" / "data" / "arkit_rig" / "ARKit_reference_blendshapes.zip"
TARGET = ROOT / "backend" / "avbridge" / "render" / "arkit_face.npz"


def read_obj(text: str) -> tuple[np.ndarray, np.ndarray]:
    vertices, faces = [], []
    for line in text.splitlines():
        if line.startswith("v "):
            vertices.append([float(v) for v in line.split()[1:4]])
        elif line.startswith("f "):
            faces.append([int(p.split("/")[0]) - 1 for p in line.split()[1:4]])
    return np.array(vertices, np.float32), np.array(faces, np.int32)


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_ZIP
    with zipfile.ZipFile(source) as z:
        names = {Path(n).stem: n for n in z.namelist() if n.endswith(".obj")}
        neutral, faces = read_obj(z.read(names["Neutral"]).decode())
        deltas = np.zeros((len(ARKIT_BLENDSHAPES), len(neutral), 3), np.float32)
        present = np.zeros(len(ARKIT_BLENDSHAPES), bool)
        for i, name in enumerate(ARKIT_BLENDSHAPES):
            if name in names:
                shape, _ = read_obj(z.read(names[name]).decode())
                deltas[i] = shape - neutral
                present[i] = True
    buffer = io.BytesIO()
    np.savez_compressed(buffer, neutral=neutral, deltas=deltas.astype(np.float16), faces=faces, present=present)
    TARGET.write_bytes(buffer.getvalue())
    missing = [n for n, p in zip(ARKIT_BLENDSHAPES, present) if not p]
    print(f"wrote {TARGET.relative_to(ROOT)}: {len(neutral)} vertices, {len(faces)} triangles, "
          f"{present.sum()} shapes (missing: {', '.join(missing) or 'none'}), {TARGET.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
