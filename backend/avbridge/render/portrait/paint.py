"""What a warp of the photo cannot make: the inside of an opening mouth, and lids closed over the eye.

Both are painted in the photo's own colours (sampled at fit time from the lips, the skin above the
eyes, the face's brightness), anti-aliased, and faded in only as far as the mouth opens beyond the
photo's own opening or the lids close past the photo's own: a frame at the photo's rest paints
nothing.
"""

from __future__ import annotations

import cv2
import numpy as np

from avbridge.core.arkit import INDEX
from avbridge.render.portrait.fit import (
    EYE_LOOP,
    INNER_LIPS,
    LOWER_INNER_LIP,
    LOWER_LID_LINE,
    MOUTH_CORNERS,
    UPPER_INNER_LIP,
    UPPER_LID_LINE,
    Portrait,
)

_SUB = 4                     # fillPoly's fixed-point bits: polygons placed to 1/16 pixel
_UPPER_INNER = INNER_LIPS[:11]           # corner 78 -> 13 -> corner 308
_LOWER_INNER = INNER_LIPS[10:] + [78]    # corner 308 -> 14 -> corner 78


def _mean_colour(image: np.ndarray, points: np.ndarray, radius: int = 2) -> np.ndarray:
    h, w = image.shape[:2]
    samples = []
    for x, y in points:
        xi, yi = round(x), round(y)
        patch = image[max(0, yi - radius):min(h, yi + radius + 1), max(0, xi - radius):min(w, xi + radius + 1)]
        if patch.size:
            samples.append(patch.reshape(-1, 3).mean(0))
    return np.mean(samples, 0) if samples else np.array([128.0, 100.0, 90.0])


def _smoothstep(lo: float, hi: float, x: float) -> float:
    t = min(1.0, max(0.0, (x - lo) / (hi - lo)))
    return t * t * (3 - 2 * t)


def _composite(image: np.ndarray, layer: np.ndarray, mask: np.ndarray, box: tuple[int, int, int, int]) -> None:
    x0, y0, x1, y1 = box
    region = image[y0:y1, x0:x1].astype(np.float32)
    m = mask[..., None]
    image[y0:y1, x0:x1] = np.clip(region * (1 - m) + layer * m, 0, 255).astype(np.uint8)


def _box(points: np.ndarray, shape: tuple[int, ...], pad: int = 3) -> tuple[int, int, int, int]:
    h, w = shape[:2]
    x0, y0 = np.floor(points.min(0)).astype(int) - pad
    x1, y1 = np.ceil(points.max(0)).astype(int) + pad
    return max(0, x0), max(0, y0), min(w, x1), min(h, y1)


def _fill(shape: tuple[int, int], polygon: np.ndarray, origin: tuple[int, int]) -> np.ndarray:
    """An anti-aliased 0..1 mask of `polygon` (pixels) in a crop of `shape` at `origin`."""
    mask = np.zeros(shape, np.uint8)
    fixed = np.round((polygon - origin) * (1 << _SUB)).astype(np.int32)
    cv2.fillPoly(mask, [fixed], 255, lineType=cv2.LINE_AA, shift=_SUB)
    return mask.astype(np.float32) / 255.0


class MouthPainter:
    """The mouth's inside as it opens past the photo's own opening: a dark cavity, teeth and the
    tongue; and the lips' seam as it closes past it.

    Teeth: when the photo shows teeth (a smile), they are its own, carried rigidly, the upper row
    with the upper lip and the lower with the lower lip, never stretched; otherwise synthetic
    rows lit like the face. A closing mouth squeezed the photo's teeth into a white squiggle
    between the lips; the lips are painted shut over it instead."""

    def __init__(self, portrait: Portrait) -> None:
        p = portrait.points[:, :2]
        image = portrait.image
        self.source = portrait.points[:, :2]
        self.width = float(np.linalg.norm(p[MOUTH_CORNERS[0]] - p[MOUTH_CORNERS[1]]))
        self.rest_gap = float(p[LOWER_INNER_LIP, 1] - p[UPPER_INNER_LIP, 1])
        lips = _mean_colour(image, p[[0, 17, 37, 267, 84, 314]])
        skin = _mean_colour(image, p[[50, 280, 205, 425]], radius=3)
        light = float(np.clip(skin.mean() / 170.0, 0.55, 1.15))        # a dim photo gets dim teeth
        self.lips = lips
        self.seam = lips * 0.55
        self.cavity = lips * 0.38 + np.array([10.0, 2.0, 2.0])
        self.throat = lips * 0.16
        self.teeth = np.array([236.0, 230.0, 218.0]) * light
        self.tongue = lips * 0.85 + np.array([20.0, 0.0, 5.0])
        # The photo's own teeth, if it shows them: the inside of its lips, cut at the middle.
        self.own_teeth = None
        if self.rest_gap > 0.08 * self.width:
            polygon = p[INNER_LIPS]
            box = _box(polygon, image.shape, pad=2)
            x0, y0, x1, y1 = box
            inside = _fill((y1 - y0, x1 - x0), polygon, (x0, y0))
            patch = image[y0:y1, x0:x1].astype(np.float32)
            bright = patch.mean(2) > 0.6 * patch.mean(2).max()          # teeth, not the dark gaps
            if (inside * bright).sum() > 0.3 * inside.sum():
                self.own_teeth = (patch, inside, box)

    def paint(self, image: np.ndarray, target: np.ndarray, frame: np.ndarray) -> None:
        p = target[:, :2]
        gap = float(p[LOWER_INNER_LIP, 1] - p[UPPER_INNER_LIP, 1])
        if gap < self.rest_gap:
            self._close(image, p, gap)
            return
        alpha = _smoothstep(0.0, 0.06 * self.width, gap - max(self.rest_gap, 0.0))
        if alpha <= 0.0:
            return
        polygon = p[INNER_LIPS]
        x0, y0, x1, y1 = _box(polygon, image.shape)
        if x1 <= x0 or y1 <= y0:
            return
        shape = (y1 - y0, x1 - x0)
        inside = _fill(shape, polygon, (x0, y0))
        ys = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5
        xs = np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5
        upper = np.interp(xs[0], *_curve(p[_UPPER_INNER]))[None, :]   # the upper lip's inner edge per column
        lower = np.interp(xs[0], *_curve(p[_LOWER_INNER]))[None, :]
        depth = np.clip((ys - upper) / np.maximum(lower - upper, 1.0), 0, 1)
        layer = self.cavity[None, None, :] * (1 - depth[..., None]) + self.throat[None, None, :] * depth[..., None]
        centre_x = 0.5 * (p[MOUTH_CORNERS[0], 0] + p[MOUTH_CORNERS[1], 0])
        across = np.clip(1 - np.abs(xs - centre_x) / (0.5 * self.width), 0, 1)      # teeth recede at the corners
        # The tongue lies low in the mouth; tongueOut lifts it forward to the teeth.
        out = float(frame[INDEX["tongueOut"]])
        tongue_y = lower - (0.18 + 0.45 * out) * max(gap, 1.0)
        ry = max(0.35 * gap * (0.6 + 0.6 * out), 1.0)
        rx = 0.32 * self.width
        ellipse = np.clip(1 - ((xs - centre_x) / rx) ** 2 - ((ys - tongue_y) / ry) ** 2, 0, 1)
        tongue = np.clip(ellipse * 4, 0, 1)[..., None]
        tongue_colour = self.tongue[None, None, :] * (0.8 + 0.2 * ellipse[..., None])
        layer = layer * (1 - tongue * (1 - out)) + tongue_colour * tongue * (1 - out)   # behind the teeth
        if self.own_teeth is not None:
            layer = self._own_teeth(layer, p, (x0, y0, x1, y1), out)
        else:
            # A rounded mouth (oo) hides the teeth behind the lips: they recede as it narrows.
            narrow = float(np.linalg.norm(p[MOUTH_CORNERS[0]] - p[MOUTH_CORNERS[1]])) / max(self.width, 1e-3)
            shown = _smoothstep(0.7, 0.95, narrow)
            upper_teeth = min(0.4 * gap, 0.15 * self.width) * shown
            lower_teeth = min(0.25 * gap, 0.1 * self.width) * shown if gap > 0.15 * self.width else 0.0
            top = np.clip(upper + upper_teeth * (0.3 + 0.7 * across) - ys + 0.5, 0, 1)
            bottom = np.clip(ys - (lower - lower_teeth * across) + 0.5, 0, 1) * (1 - out) if lower_teeth else np.zeros_like(top)
            # Incisors a little brighter than the teeth beside them, with a faint line between each.
            seams = 1 - 0.18 * np.clip(1 - np.abs(np.sin(np.pi * (xs - centre_x) / (0.13 * self.width))) * 6, 0, 1)
            # The lip shades the teeth just under it; the teeth darken toward the corners.
            under_lip = np.clip((ys - upper) / max(0.35 * upper_teeth, 1.0), 0, 1)
            shade = ((0.62 + 0.25 * across) * seams * (0.75 + 0.25 * under_lip))[..., None]
            teeth = np.clip(top + bottom, 0, 1)[..., None]
            layer = layer * (1 - teeth) + self.teeth[None, None, :] * shade * teeth
        if out > 0:   # th: the tongue comes forward between the teeth, in front of the lower row
            front = tongue * out * (ys > upper + 0.2 * gap)[..., None]
            layer = layer * (1 - front) + tongue_colour * front
        _composite(image, layer.astype(np.float32), inside * alpha, (x0, y0, x1, y1))

    def _own_teeth(self, layer: np.ndarray, p: np.ndarray, box: tuple[int, int, int, int], tongue_out: float) -> np.ndarray:
        """The photo's teeth, the upper row moved with the upper lip, the lower with the lower lip."""
        assert self.own_teeth is not None
        patch, inside, (sx0, sy0, _, sy1) = self.own_teeth
        x0, y0, x1, y1 = box
        middle = 0.5 * (self.source[UPPER_INNER_LIP, 1] + self.source[LOWER_INNER_LIP, 1]) - sy0
        rows = np.arange(sy1 - sy0, dtype=np.float32)[:, None] + 0.5
        for lip, half, keep in ((UPPER_INNER_LIP, rows < middle, 1.0), (LOWER_INNER_LIP, rows >= middle, 1.0 - tongue_out)):
            dx, dy = p[lip] - self.source[lip]
            mask = inside * half * keep
            matrix = np.array([[1, 0, sx0 + dx - x0], [0, 1, sy0 + dy - y0]], np.float32)
            size = (x1 - x0, y1 - y0)
            moved = cv2.warpAffine(patch, matrix, size, flags=cv2.INTER_LINEAR, borderValue=0)
            moved_mask = cv2.warpAffine(mask.astype(np.float32), matrix, size, flags=cv2.INTER_LINEAR, borderValue=0)[..., None]
            layer = layer * (1 - moved_mask) + moved * moved_mask
        return layer

    def _close(self, image: np.ndarray, p: np.ndarray, gap: float) -> None:
        """Lips pressed together past the photo's opening: the lip colour over what is left of the
        opening, with a darker line where they meet."""
        alpha = _smoothstep(0.2, 0.8, 1.0 - gap / max(self.rest_gap, 1e-3))
        if alpha <= 0.0 or self.rest_gap <= 0.5:
            return
        polygon = p[INNER_LIPS]
        x0, y0, x1, y1 = _box(polygon, image.shape, pad=2)
        if x1 <= x0 or y1 <= y0:
            return
        shape = (y1 - y0, x1 - x0)
        cover = cv2.GaussianBlur(_fill(shape, polygon, (x0, y0)), (3, 3), 0.8)
        layer = np.empty(shape + (3,), np.float32)
        layer[:] = self.lips
        line = np.zeros(shape, np.uint8)
        middle = 0.5 * (p[_UPPER_INNER] + p[_LOWER_INNER][::-1])
        cv2.polylines(line, [np.round((middle - (x0, y0)) * (1 << _SUB)).astype(np.int32)], False, 255,
                      thickness=1, lineType=cv2.LINE_AA, shift=_SUB)
        seam = cv2.GaussianBlur(line.astype(np.float32) / 255.0, (3, 3), 0.6)[..., None]
        layer = layer * (1 - seam) + self.seam * seam
        _composite(image, layer, np.clip(np.maximum(cover, seam[..., 0]), 0, 1) * alpha, (x0, y0, x1, y1))


def _curve(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(points[:, 0])
    return points[order, 0], points[order, 1]


class LidPainter:
    """Closed lids. The warp brings the lids two thirds of the way together; as a blink completes,
    the opening that is left is covered by the skin just above it, carried down (the upper lid
    sliding over the eye), with the lash line where the lids meet, in the photo's own lash colour."""

    def __init__(self, portrait: Portrait) -> None:
        p = portrait.points[:, :2]
        self.lash = {}
        for side in EYE_LOOP:
            # The lash colour: the darkest of what lies along the upper lid in the photo.
            samples = np.array([portrait.image[round(y), round(x)] for x, y in p[UPPER_LID_LINE[side]]], np.float64)
            self.lash[side] = samples[np.argsort(samples.sum(1))[:3]].mean(0)

    def paint(self, image: np.ndarray, target: np.ndarray, closing: dict[str, float]) -> None:
        p = target[:, :2]
        for side, loop in EYE_LOOP.items():
            alpha = _smoothstep(0.55, 0.95, closing.get(side, 0.0))
            if alpha <= 0:
                continue
            polygon = p[loop]
            x0, y0, x1, y1 = _box(polygon, image.shape, pad=3)
            opening = int(np.ceil(np.ptp(polygon[:, 1]))) + 2
            if x1 <= x0 or y1 <= y0 or y0 - opening < 0:
                continue
            shape = (y1 - y0, x1 - x0)
            cover = cv2.GaussianBlur(_fill(shape, polygon, (x0, y0)), (3, 3), 0.8)
            # The lid: the skin directly above the opening, moved down over it.
            layer = image[y0 - opening:y1 - opening, x0:x1].astype(np.float32)
            line = np.r_[p[[loop[0]]], p[LOWER_LID_LINE[side]], p[[loop[8]]]]
            lash = np.zeros(shape, np.uint8)
            fixed = np.round((line - (x0, y0)) * (1 << _SUB)).astype(np.int32)
            thickness = max(1, round(0.09 * np.ptp(polygon[:, 0])))
            cv2.polylines(lash, [fixed], False, 255, thickness=thickness, lineType=cv2.LINE_AA, shift=_SUB)
            lash_mask = cv2.GaussianBlur(lash.astype(np.float32) / 255.0, (3, 3), 0.6)[..., None]
            layer = layer * (1 - lash_mask) + self.lash[side] * lash_mask
            mask = np.clip(np.maximum(cover, lash_mask[..., 0] * 0.9), 0, 1) * alpha
            _composite(image, layer, mask, (x0, y0, x1, y1))
