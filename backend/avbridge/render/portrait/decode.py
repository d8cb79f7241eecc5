"""Decode one frame of codes into an image of the portrait.

    targets = points + sum_k w_k basis_k                (52 weights, added to the photo's own face)
    irises moved by the gaze; everything turned by the head rotation about a neck pivot
    image = warp(photo, points -> targets), then the mouth's inside and closed lids painted

Frame layout (SPEC 8.3): weights [0:52], head quaternion x, y, z, w [52:56] (avbridge axes: x to
the avatar's left, y up, z out of the face), translation [56:59], gaze yaw/pitch left eye [59:61],
right eye [61:63] (radians; yaw > 0 to the avatar's left, pitch > 0 down).

The codes move the photo from its own expression and pose: a neutral frame (weights 0, identity head,
eyes ahead) gives the photo back unchanged (the warp is the identity and nothing is painted). A
photo that smiles keeps smiling while it talks; subtracting its own scores instead made a smiling
photo grimace whenever the stream's smile was lower than the photo's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from avbridge.core.arkit import INDEX
from avbridge.render.portrait import paint
from avbridge.render.portrait.fit import (
    BLINK,
    EYE_LOOP,
    INNER_LIPS,
    IRIS,
    LOWER_LID_LINE,
    UPPER_LID,
    UPPER_LID_LINE,
    Portrait,
)
from avbridge.render.portrait.warp import FaceWarp

FRAME_WIDTH = 63
# Landmarks 0..467 are the face; 468..477 the irises, moved by the gaze rather than the basis.
_FACE = slice(0, 468)
# Below this opening the irises stop steering the warp: squeezed onto the lids' meeting line their
# five points nearly coincide, and the spline rang round them (a bright ring on a closed eye).
CLOSED_IRIS_RATIO = 0.35
WARP_CLOSES = 0.7
_DEPTH = np.array([1.0, 1.0, 0.5])


class PortraitDecoder:
    def __init__(self, portrait: Portrait) -> None:
        self.portrait = portrait
        points = portrait.points
        self.warp = FaceWarp(points[:, :2], portrait.size, margin=1.9, ring=1.6)
        self.mouth = paint.MouthPainter(portrait)
        self.lids = paint.LidPainter(portrait)
        self._iris_held = {"right": True, "left": True}
        self.closing = {"right": 0.0, "left": 0.0}     # each eye's blink this frame, 0..1
        self._masks: Any = None
        self._layer: tuple[np.ndarray, np.ndarray] | None = None
        self.layered = True        # the head over a still background plate (see `layer`)
        height = np.ptp(points[_FACE, 1])
        chin = points[152]
        # The head turns about the neck: below the chin, a little behind the face (pixels, image
        # axes). Further back, a 15 degree turn slid the face 20 px sideways into the fixed ring
        # and folded the ear.
        self.pivot = np.array([points[_FACE, 0].mean(), chin[1] + 0.15 * height, points[_FACE, 2].max() + 0.2 * height])
        # The silhouette (the deepest fifth of the landmarks: the sides of the face) does not steer
        # the warp while the head turns: its points would pass the cheek in front of them and fold
        # it into the hair; without them the turn spreads out to the still background instead.
        self.silhouette = points[:, 2] > np.percentile(points[_FACE, 2], 80)
        # Points on the skull's outline (hair, ears) turn with the head too, so the region between
        # the face and the still background bends smoothly instead of the face edge alone moving.
        centre = points[_FACE, :2].mean(0)
        half = np.abs(points[_FACE, :2] - centre).max(0)
        # Only the top (the hair): below, the jaw moves on its own, and points at the ears folded
        # the cheek into the hair as the face turned.
        angles = np.linspace(np.pi * 1.2, np.pi * 1.8, 9)
        outline = centre + 1.25 * half * np.c_[np.cos(angles), np.sin(angles)]
        self.skull = np.c_[outline, np.full(len(angles), points[_FACE, 2].mean() + 0.2 * height)]
        self._eye_radius = {side: 0.55 * np.linalg.norm(points[EYE_LOOP[side][0], :2] - points[EYE_LOOP[side][8], :2])
                            for side in ("right", "left")}

    def targets(self, frame: np.ndarray) -> np.ndarray:
        """(478, 3) where each landmark goes for this frame, pixels."""
        p = self.portrait
        weights = np.asarray(frame[:52], np.float64)
        moved = p.points + np.tensordot(weights, p.basis, axes=1)
        for side in ("right", "left"):
            self._blink(moved, side, weights)
        self._close_lips(moved, weights)
        # Gaze: each iris slides across its eye (yaw > 0 is toward the image's right for a face
        # looking at the camera; pitch > 0 down); the lids follow a vertical glance a little.
        for side, yaw_i, pitch_i in (("left", 59, 60), ("right", 61, 62)):
            r = self._eye_radius[side]
            dx, dy = r * np.sin(float(frame[yaw_i])), r * np.sin(float(frame[pitch_i]))
            moved[IRIS[side], 0] += dx
            moved[IRIS[side], 1] += dy
            moved[UPPER_LID[side], 1] += 0.3 * dy
            self._close_eye(moved, side)
        return self.turn(moved, frame)

    def _blink(self, points: np.ndarray, side: str, weights: np.ndarray) -> None:
        """The lid lines close explicitly, pair by pair, onto a line a fifth of the way up from the
        lower lid (where lids meet), however far the photo's eye was open; the mesh's blink still
        moves the skin around them. The mesh's lid alone met the lower lid at its middle only,
        leaving the corners of the eye open."""
        k = INDEX[BLINK[side]]
        amount = float(np.clip(weights[k], 0.0, 1.0))
        upper, lower = UPPER_LID_LINE[side], LOWER_LID_LINE[side]
        basis = self.portrait.basis[k]
        delta = weights[k]
        source = self.portrait.points
        meet = source[lower] + 0.2 * (source[upper] - source[lower])
        # The warp closes the lids only to a third of the opening: squeezing the last of it shut
        # made the spline ring (an iris-coloured oval above the lid). LidPainter draws the rest.
        travel = WARP_CLOSES * amount
        for ids, goal in ((upper, meet), (lower, meet)):
            others = points[ids] - source[ids] - delta * basis[ids]      # every other shape's motion
            points[ids] = source[ids] + others + travel * (goal - source[ids])
        self.closing[side] = amount

    def _close_lips(self, points: np.ndarray, weights: np.ndarray) -> None:
        """p, b and m shut the lips whatever the photo's mouth does: a smile that shows teeth has
        its lips apart, and the mesh's closing shapes, added to it, left a gap. How shut: ARKit's
        mouthClose closes the lips against an open jaw (so mouthClose near jawOpen is shut), and
        pressing or rolling the lips shuts them too. The inner lips then meet on their middle line."""
        jaw = max(float(weights[INDEX["jawOpen"]]), 0.05)
        shut = max(float(weights[INDEX["mouthClose"]]) / jaw,
                   0.5 * float(weights[INDEX["mouthPressLeft"]] + weights[INDEX["mouthPressRight"]])
                   + 0.5 * float(weights[INDEX["mouthRollLower"]] + weights[INDEX["mouthRollUpper"]]))
        shut = float(np.clip((shut - 0.3) / 0.6, 0.0, 1.0))
        if shut <= 0.0:
            return
        upper, lower = np.array(INNER_LIPS[1:10]), np.array(INNER_LIPS[11:20][::-1])
        meet = 0.5 * (points[upper, 1] + points[lower, 1])
        points[upper, 1] += shut * (meet - points[upper, 1])
        points[lower, 1] += shut * (meet - points[lower, 1])

    def _close_eye(self, points: np.ndarray, side: str) -> None:
        """Keep a closing eye's geometry sane: a lid never passes the other (the pair meets at
        their mean), and the iris is squeezed toward the line where the lids meet, in proportion
        to how far they have closed. An iris left where it was dragged its pixels below the
        closed lids."""
        upper, lower = UPPER_LID_LINE[side], LOWER_LID_LINE[side]
        for u, l in zip(upper, lower):
            if points[u, 1] > points[l, 1] - 0.3:
                meet = 0.5 * (points[u, 1] + points[l, 1])
                points[u, 1], points[l, 1] = meet - 0.15, meet + 0.15
        middle = len(upper) // 2
        rest_gap = self.portrait.points[lower[middle], 1] - self.portrait.points[upper[middle], 1]
        ratio = float(np.clip((points[lower[middle], 1] - points[upper[middle], 1]) / max(rest_gap, 1e-3), 0.0, 1.0))
        self._iris_held[side] = ratio >= CLOSED_IRIS_RATIO
        if ratio >= 1.0:
            return
        line_x = points[upper, 0]
        line_y = 0.5 * (points[upper, 1] + points[lower, 1])
        order = np.argsort(line_x)
        for i in IRIS[side]:
            centre = np.interp(points[i, 0], line_x[order], line_y[order])
            points[i, 1] = centre + (points[i, 1] - centre) * ratio

    def turn(self, points: np.ndarray, frame: np.ndarray) -> np.ndarray:
        """`points` (N, 3), pixels, moved by the frame's head rotation about the neck pivot."""
        # The photo's own pose is the rest: a frame's rotation turns the head from there.
        quat = np.asarray(frame[52:56], np.float64)
        if not np.all(np.isfinite(quat)) or np.linalg.norm(quat) < 1e-6:
            return points
        rotation = Rotation.from_quat(quat / np.linalg.norm(quat))
        if rotation.magnitude() < 1e-5:
            return points
        # avbridge axes -> image axes (x right, y down, z into the image): flip y and z.
        flip = np.array([1.0, -1.0, -1.0])
        matrix = flip[:, None] * rotation.as_matrix() * flip[None, :]
        # The face is turned as if half as deep as MediaPipe measures it: a 2D warp cannot hide the
        # far cheek behind the near one, and full depth made the far edge fold over the hair.
        relative = (points - self.pivot) * _DEPTH
        return relative @ matrix.T / _DEPTH + self.pivot

    @property
    def layer(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(head mask, background plate) for the warp: the head (GrabCut, masks.py) moves over a
        plate of the photo with the head inpainted. The mask is feathered outward only and the
        plate is the photo wherever the mask is below one half, so the rest frame is still the
        photo, bit for bit. None: warp everything (layered=False)."""
        if not self.layered:
            return None
        if self._layer is None:
            import cv2
            head = self.masks.head
            hard = (head > 0.5).astype(np.uint8)
            size = max(3, int(0.04 * self.portrait.face_width) | 1)
            feather = cv2.GaussianBlur(cv2.dilate(hard, np.ones((size, size), np.uint8)).astype(np.float32), (2 * size + 1, 2 * size + 1), size / 2)
            mask = np.maximum(hard.astype(np.float32), feather)
            mask[hard == 0] = np.minimum(mask[hard == 0], 0.5)        # outside the head: at most half
            plate = cv2.inpaint(self.portrait.image, cv2.dilate(hard, np.ones((3, 3), np.uint8)), 5, cv2.INPAINT_TELEA)
            plate[hard == 0] = self.portrait.image[hard == 0]
            self._layer = (mask.astype(np.float32), plate)
        return self._layer

    @property
    def masks(self) -> Any:
        """render.portrait.masks.PortraitMasks of the photo, made on first use (~50-90 ms: GrabCut)."""
        if self._masks is None:
            from avbridge.render.portrait.masks import portrait_masks
            self._masks = portrait_masks(self.portrait.image, self.portrait.points)
        return self._masks

    @staticmethod
    def turning(frame: np.ndarray) -> bool:
        """Whether the frame turns the head by more than a degree."""
        quat = np.asarray(frame[52:56], np.float64)
        norm = np.linalg.norm(quat)
        return bool(norm > 1e-6 and abs(quat[3]) / norm < np.cos(np.radians(1.0) / 2))

    def render(self, frame: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 for one frame of 63 codes."""
        frame = np.asarray(frame, np.float64)
        if frame.shape != (FRAME_WIDTH,):
            raise ValueError(f"a frame has {FRAME_WIDTH} values (SPEC 8.3), not {frame.shape}")
        p = self.portrait
        target = self.targets(frame)
        steer = np.ones(len(target), bool)
        for side, held in self._iris_held.items():
            steer[IRIS[side]] = held
        if self.turning(frame):
            steer &= ~self.silhouette
        skull = self.turn(self.skull.copy(), frame)
        source = np.r_[p.points[steer, :2], self.skull[:, :2]]
        image = self.warp.apply(p.image, source, np.r_[target[steer, :2], skull[:, :2]], layer=self.layer)
        self.mouth.paint(image, target, frame)
        self.lids.paint(image, target, self.closing)
        return image

    @staticmethod
    def rest_frame() -> np.ndarray:
        """The frame that gives the photo back: no weights, no turn, eyes ahead."""
        frame = np.zeros(FRAME_WIDTH)
        frame[55] = 1.0
        return frame
