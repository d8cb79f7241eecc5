"""Where the parts of a portrait are: face, lips, eyes (from the landmarks) and the head with its
hair against the background (GrabCut, seeded by the landmarks: the face is certainly head, far
from it is certainly background, the hair between is for GrabCut to decide).

Shapes: every mask (H, W) float32 in 0..1. The bank feathers its turned face with `head`;
`background` says which pixels must hold still while the head moves.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from avbridge.render.portrait.fit import EYE_LOOP, FACE_OVAL, INNER_LIPS

OUTER_LIPS = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146]


@dataclass
class PortraitMasks:
    face: np.ndarray
    lips: np.ndarray
    mouth: np.ndarray          # the opening between the inner lips
    eyes: np.ndarray
    head: np.ndarray           # face, hair, ears
    background: np.ndarray


def _polygon(shape: tuple[int, int], points: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 255, lineType=cv2.LINE_AA)
    return mask.astype(np.float32) / 255.0


def portrait_masks(image: np.ndarray, points: np.ndarray, work_side: int = 256) -> PortraitMasks:
    h, w = image.shape[:2]
    p = points[:, :2]
    face = _polygon((h, w), p[FACE_OVAL])
    lips = np.clip(_polygon((h, w), p[OUTER_LIPS]) - _polygon((h, w), p[INNER_LIPS]), 0, 1)
    mouth = _polygon((h, w), p[INNER_LIPS])
    eyes = np.clip(sum(_polygon((h, w), p[loop]) for loop in EYE_LOOP.values()), 0, 1)
    return PortraitMasks(face, lips, mouth, eyes, *_head_and_background(image, p, face, work_side))


def _head_and_background(image: np.ndarray, p: np.ndarray, face: np.ndarray, work_side: int) -> tuple[np.ndarray, np.ndarray]:
    h, w = image.shape[:2]
    scale = min(1.0, work_side / max(h, w))
    small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    sp = p * scale
    width, height = np.ptp(sp[:, 0]), np.ptp(sp[:, 1])
    x0, y0 = sp[:, 0].min(), sp[:, 1].min()
    labels = np.full(small.shape[:2], cv2.GC_BGD, np.uint8)
    # Hair and ears may be anywhere in a box about the face: up to most of a face height above it.
    bx0, bx1 = int(max(0, x0 - 0.45 * width)), int(min(small.shape[1], x0 + 1.45 * width))
    by0, by1 = int(max(0, y0 - 0.8 * height)), int(min(small.shape[0], y0 + 1.1 * height))
    labels[by0:by1, bx0:bx1] = cv2.GC_PR_BGD
    centre = (int(x0 + width / 2), int(y0 + 0.3 * height))
    cv2.ellipse(labels, centre, (int(0.75 * width), int(0.95 * height)), 0, 0, 360, cv2.GC_PR_FGD, -1)
    small_face = cv2.resize(face, small.shape[1::-1]) > 0.5
    labels[small_face] = cv2.GC_FGD
    background_model, foreground_model = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(np.ascontiguousarray(small[..., ::-1]), labels, (0, 0, 0, 0), background_model, foreground_model, 4,
                    cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        pass   # a flat photo GrabCut cannot model: the seeds stand
    head_small = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8) * 255
    # The largest connected part only: specks of background that look like hair are not head.
    count, parts, stats, _ = cv2.connectedComponentsWithStats(head_small)
    if count > 1:
        keep = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        head_small = np.where(parts == keep, 255, 0).astype(np.uint8)
    head = cv2.resize(head_small, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255.0
    head = np.maximum(cv2.GaussianBlur(head, (5, 5), 1.5), face)
    return head, 1.0 - head
