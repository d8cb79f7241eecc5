"""Fit once per portrait: the face's landmarks and pose, and how each ARKit weight moves them.

The basis is transferred from the ARKit reference mesh (render/arkit_face.npz), not learned:
1. The mesh is posed with the photo's own blendshape scores (a smiling photo meets a smiling
   mesh, so lips and lids pair up with the right side of each opening).
2. A similarity transform (Umeyama) is fitted by iterative closest points from the 478 landmarks
   to the mesh's vertices (~1.5 px median residual on the astronaut photo).
3. Each landmark takes the inverse-distance blend of its three nearest vertices' offsets, turned
   and scaled into pixels: basis (52, 478, 3).
4. The blinks are scaled so that at 1 the upper lid meets the lower lid on this face (the mesh's
   lids close on the mesh's eyes, not on this person's).

Portrait.basis (52, 478, 3) pixels per unit weight; .points (478, 3) the photo's landmarks;
.weights (52,) and .head (7,) the photo's own expression and pose, the rest every frame moves from.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from avbridge.core.arkit import INDEX
from avbridge.render.face_mesh import FaceMesh
from avbridge.render.portrait.landmarks import (
    MAX_PIXELS,
    FaceFinder,
    PortraitError,
    check_face,
)

# MediaPipe face mesh landmark indices (its canonical topology).
UPPER_LID = {"right": 159, "left": 386}      # the person's right eye is on the image's left
LOWER_LID = {"right": 145, "left": 374}
BLINK = {"right": "eyeBlinkRight", "left": "eyeBlinkLeft"}
EYE_LOOP = {"right": [33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7],
            "left": [263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249]}
IRIS = {"right": list(range(468, 473)), "left": list(range(473, 478))}
INNER_LIPS = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95]
UPPER_INNER_LIP, LOWER_INNER_LIP = 13, 14
MOUTH_CORNERS = (78, 308)
# Landmarks on one side of an opening may only take their motion from that side of the mesh's
# opening: nearest vertices alone paired the photo's upper lip with the mesh's lower lip wherever
# the photo's mouth was open (a smile showing teeth), and the lip went jagged as the jaw opened.
UPPER_LIP = [185, 40, 39, 37, 0, 267, 269, 270, 409, 191, 80, 81, 82, 13, 312, 311, 310, 415]
LOWER_LIP = [146, 91, 181, 84, 17, 314, 405, 321, 375, 95, 88, 178, 87, 14, 317, 402, 318, 324]
UPPER_LID_LINE = {"right": [246, 161, 160, 159, 158, 157, 173], "left": [466, 388, 387, 386, 385, 384, 398]}
LOWER_LID_LINE = {"right": [7, 163, 144, 145, 153, 154, 155], "left": [249, 390, 373, 374, 380, 381, 382]}
FACE_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
             148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]


@dataclass
class Portrait:
    image: np.ndarray          # (H, W, 3) uint8 RGB
    points: np.ndarray         # (478, 3) pixels
    weights: np.ndarray        # (52,) the photo's own expression
    head: np.ndarray           # (7,) the photo's own pose
    basis: np.ndarray          # (52, 478, 3) pixels per unit weight
    fit_residual_px: float     # median landmark-to-mesh distance after alignment

    @property
    def size(self) -> tuple[int, int]:
        return self.image.shape[1], self.image.shape[0]

    @property
    def face_width(self) -> float:
        return float(self.points[:, 0].max() - self.points[:, 0].min())


def load_image(data: bytes, max_side: int = 512) -> np.ndarray:
    """Decode an upload to RGB, no longer than `max_side` on its longer side; PortraitError
    ("bad_image", "image_too_large") for what cannot be used. The size is read from the header
    first, so a 50-megapixel upload is refused before it is decoded."""
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise PortraitError("image_too_large", f"the image is {width}x{height} ({width * height / 1e6:.0f} megapixels); "
                                                       f"the limit is {MAX_PIXELS / 1e6:.0f}")
            image = probe.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise PortraitError("bad_image", f"the upload is not an image that can be read ({exc.__class__.__name__})") from exc
    scale = max_side / max(image.size)
    if scale < 1:
        image = image.resize((round(image.size[0] * scale), round(image.size[1] * scale)), Image.Resampling.LANCZOS)
    return np.asarray(image, np.uint8)


def crop_to_face(rgb: np.ndarray, finder: FaceFinder, widths: float = 3.0, side: int = 512) -> np.ndarray:
    """A square `side` x `side` around the face, `widths` face widths wide (a full-length photo
    made into a portrait). The photo as it is when no face is found, so fitting says why."""
    from PIL import Image
    detection = finder.find(rgb)
    if detection is None:
        return rgb
    centre = detection.points[:, :2].mean(0) - [0, 0.1 * np.ptp(detection.points[:, 1])]
    half = widths * np.ptp(detection.points[:, 0]) / 2
    h, w = rgb.shape[:2]
    half = min(half, centre[0], w - centre[0], centre[1], h - centre[1]) if half > min(w, h) / 2 else half
    x0, y0 = np.clip(np.round(centre - half).astype(int), 0, [w - 1, h - 1])
    x1, y1 = np.clip(np.round(centre + half).astype(int), [x0 + 1, y0 + 1], [w, h])
    crop = Image.fromarray(np.ascontiguousarray(rgb[y0:y1, x0:x1]))
    return np.asarray(crop.resize((side, round(side * (y1 - y0) / (x1 - x0))), Image.Resampling.LANCZOS))


def fit_portrait(rgb: np.ndarray, finder: FaceFinder | None = None, mesh: FaceMesh | None = None) -> Portrait:
    own = finder is None
    finder = finder or FaceFinder()
    try:
        detection = check_face(finder.find(rgb), rgb.shape)
    finally:
        if own:
            finder.close()
    mesh = mesh or FaceMesh()
    basis, residual = transfer_basis(detection.points, detection.weights, mesh)
    return Portrait(np.ascontiguousarray(rgb[..., :3]), detection.points, detection.weights, detection.head, basis, residual)


def _umeyama(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Scale, rotation and translation with dst ~ s R src + t (least squares)."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s0, d0 = src - mu_s, dst - mu_d
    u, sig, vt = np.linalg.svd(d0.T @ s0 / len(src))
    fix = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        fix[2, 2] = -1
    rotation = u @ fix @ vt
    scale = float(np.trace(np.diag(sig) @ fix) / ((s0 ** 2).sum() / len(src)))
    return scale, rotation, mu_d - scale * rotation @ mu_s


def _sided_groups(mesh: FaceMesh) -> list[tuple[list[int], np.ndarray]]:
    """(landmarks, vertices they may pair with): lips by whether the jaw moves the vertex, lids by
    whether the blink does."""
    jaw = np.abs(mesh.offsets[INDEX["jawOpen"], :, 1])
    jaw_moved = jaw > 0.35 * jaw.max()
    groups = [(UPPER_LIP, ~jaw_moved), (LOWER_LIP, jaw_moved)]
    for side in ("right", "left"):
        lid = np.abs(mesh.offsets[INDEX[BLINK[side]], :, 1])
        lid_moved = lid > 0.3 * lid.max()
        groups += [(UPPER_LID_LINE[side], lid_moved), (LOWER_LID_LINE[side], ~lid_moved)]
    return groups


def transfer_basis(points: np.ndarray, weights: np.ndarray, mesh: FaceMesh, iterations: int = 30) -> tuple[np.ndarray, float]:
    """The mesh's 52 offsets carried onto the landmarks, in pixels; and the fit's median residual."""
    flip = np.array([1.0, -1.0, -1.0])            # mesh (x left, y up, z out) -> image (x right, y down, z in)
    posed = mesh.vertices(weights) * flip
    scale = np.ptp(points[:, 0]) / np.ptp(posed[:, 0])
    rotation, shift = np.eye(3), points.mean(0) - scale * posed.mean(0)
    for _ in range(iterations):
        placed = scale * posed @ rotation.T + shift
        distance, nearest = cKDTree(placed).query(points)
        keep = distance <= np.percentile(distance, 90)   # the worst tenth (hairline, ears) does not steer
        scale, rotation, shift = _umeyama(posed[nearest[keep]], points[keep])
    placed = scale * posed @ rotation.T + shift
    distance, nearest = cKDTree(placed).query(points, k=3)
    for group, allowed in _sided_groups(mesh):
        subset = np.flatnonzero(allowed)
        d, n = cKDTree(placed[subset]).query(points[group], k=3)
        distance[group], nearest[group] = d, subset[n]
    blend = 1.0 / (distance + 1e-3)
    blend /= blend.sum(1, keepdims=True)
    offsets = scale * (mesh.offsets * flip) @ rotation.T                 # (52, V, 3) pixels
    basis = np.einsum("kpnc,pn->kpc", offsets[:, nearest, :], blend)     # (52, 478, 3)
    for side in ("right", "left"):
        k, upper, lower = INDEX[BLINK[side]], UPPER_LID[side], LOWER_LID[side]
        gap = points[lower, 1] - points[upper, 1]
        closing = basis[k, upper, 1] - basis[k, lower, 1]
        if closing > 1e-3 and gap > 0:
            basis[k] *= gap / closing
    return basis, float(np.median(distance[:, 0]))
