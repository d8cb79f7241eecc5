"""The ARKit reference face, drawn from a Track: a preview anyone can watch without an engine.

Mesh (arkit_face.npz, see ASSETS.md): neutral (V, 3) metres in the face's own frame (x to its
left, y up, z toward the viewer, as avbridge's head pose), offsets (52, V, 3) per ARKit shape
(tongueOut has none), triangles (F, 3).

A frame: vertices = neutral + sum_k w_k * offset_k, then the head's rotation about a neck pivot
and its translation; flat Lambert shading; triangles facing away culled, the rest painted far to
near (painter's algorithm) with Pillow at twice the size and downsampled for smooth edges. The
mesh has holes where the eyes go: eyeballs are drawn behind them, their irises turned by the
track's gaze.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ASSET = Path(__file__).with_name("arkit_face.npz")
NECK_PIVOT = np.array([0.0, -0.07, -0.06])
_LIGHT = np.array([0.35, 0.45, 1.0]) / np.linalg.norm([0.35, 0.45, 1.0])
_SKIN = np.array([226, 190, 168], np.float64)
_BACKGROUND = (34, 36, 44)
EYE_RADIUS = 0.0115
IRIS_RADIUS = 0.0055


class FaceMesh:
    def __init__(self, path: Path = ASSET) -> None:
        data = np.load(path)
        self.neutral = data["neutral"].astype(np.float64)
        self.offsets = data["deltas"].astype(np.float64)
        self.triangles = data["faces"]
        self.eye_centres = _eye_holes(self.neutral, self.triangles)

    def vertices(self, weights: np.ndarray) -> np.ndarray:
        """(V, 3) for 52 blendshape weights."""
        return self.neutral + np.tensordot(np.asarray(weights, np.float64), self.offsets, axes=1)

    def render(self, weights: np.ndarray, head: np.ndarray, gaze: np.ndarray, size: int = 512) -> Image.Image:
        scale = 2
        canvas = size * scale
        rotation = _rotation_matrix(head[:4])
        translation = np.asarray(head[4:7], np.float64)

        def place(points: np.ndarray) -> np.ndarray:
            return (points - NECK_PIVOT) @ rotation.T + NECK_PIVOT + translation

        pixels_per_metre = canvas / 0.24

        def project(points: np.ndarray) -> np.ndarray:
            return np.stack([canvas / 2 + points[:, 0] * pixels_per_metre,      # x is the face's left: the viewer's right
                             canvas / 2 - (points[:, 1] - 0.005) * pixels_per_metre], axis=1)

        image = Image.new("RGB", (canvas, canvas), _BACKGROUND)
        draw = ImageDraw.Draw(image)
        self._draw_eyes(draw, place, project, gaze, rotation, pixels_per_metre)
        v = place(self.vertices(weights))
        tri = v[self.triangles]
        normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        lengths = np.linalg.norm(normals, axis=1)
        facing = normals[:, 2] > 0
        shade = np.clip((normals @ _LIGHT) / np.maximum(lengths, 1e-12), 0, 1)
        colours = (_SKIN[None, :] * (0.25 + 0.75 * shade[:, None])).astype(int)
        order = np.argsort(tri[:, :, 2].mean(axis=1))
        points = project(v)
        for f in order:
            if facing[f]:
                a, b, c = points[self.triangles[f]]
                draw.polygon([tuple(a), tuple(b), tuple(c)], fill=tuple(colours[f]))
        return image.resize((size, size), Image.Resampling.LANCZOS)

    def _draw_eyes(self, draw, place, project, gaze, rotation, pixels_per_metre) -> None:
        for eye, (yaw, pitch) in zip(self.eye_centres, ((gaze[0], gaze[1]), (gaze[2], gaze[3]))):
            centre = place(eye[None, :] - np.array([0, 0, EYE_RADIUS * 0.6]))[0]
            cx, cy = project(centre[None, :])[0]
            r = EYE_RADIUS * pixels_per_metre
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(236, 232, 226))
            # The iris sits on the eyeball where the gaze points (yaw > 0: the face's left; pitch > 0: down).
            direction = np.array([np.sin(yaw) * np.cos(pitch), -np.sin(pitch), np.cos(yaw) * np.cos(pitch)])
            iris = centre + rotation @ direction * EYE_RADIUS * 0.85
            ix, iy = project(iris[None, :])[0]
            ir = IRIS_RADIUS * pixels_per_metre
            draw.ellipse([ix - ir, iy - ir, ix + ir, iy + ir], fill=(72, 96, 120))
            draw.ellipse([ix - ir * 0.45, iy - ir * 0.45, ix + ir * 0.45, iy + ir * 0.45], fill=(12, 12, 16))


def _rotation_matrix(q: np.ndarray) -> np.ndarray:
    x, y, z, w = (float(c) for c in q)
    norm = np.sqrt(x * x + y * y + z * z + w * w) or 1.0
    x, y, z, w = x / norm, y / norm, z / norm, w / norm
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def _eye_holes(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """(2, 3) centres of the two eye openings: the boundary loops above the nose, one each side."""
    edges = np.sort(np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]]), axis=1)
    unique, counts = np.unique(edges, axis=0, return_counts=True)
    boundary = unique[counts == 1]
    parent = {int(v): int(v) for v in boundary.ravel()}

    def find(v: int) -> int:
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    for a, b in boundary:
        parent[find(int(a))] = find(int(b))
    loops: dict[int, list[int]] = {}
    for v in parent:
        loops.setdefault(find(v), []).append(v)
    centres = [vertices[members].mean(axis=0) for members in loops.values() if len(members) < 200]
    eyes = sorted((c for c in centres if c[1] > 0.0), key=lambda c: -abs(c[0]))[:2]
    if len(eyes) < 2:
        raise ValueError("the face mesh has no two eye openings")
    return np.array(sorted(eyes, key=lambda c: -c[0]))   # left eye (x > 0) first, like the gaze columns
