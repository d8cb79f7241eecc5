"""The frame bank: key frames rendered once per portrait, then each live frame made from the
nearest keys instead of decoded. This is how a slow decoder is made interactive (render keys ahead,
interpolate at run time); with this package's direct decoder (~12 ms) it is mostly a cheaper path
for many sessions on one CPU, and the place a slower, better decoder would plug in.

Keys: 15 visemes (motion/visemes.py) x 4 expressions (neutral, happy, sad, surprised at 0.7) x
eyes open / closed = 120 renders by the direct decoder; only the warp's box is kept.

A frame: its 52 weights are compared with the keys' on the mouth, brow/cheek and blink channels
(each group scaled to matter alike); the two nearest keys are mixed by inverse distance, either
as a plain blend or by DIS optical flow between them (less ghosting, more time). The head's turn
is then applied as one homography of the face (fitted to where the decoder would move the
landmarks), feathered into the still photo; gaze is not in the keys.

Shapes: keys (K, h, w, 3) uint8 over the box; key_weights (K, 52).
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from avbridge.core.arkit import INDEX
from avbridge.motion.emotion import emotion_pose
from avbridge.motion.visemes import MOUTH_CHANNELS, VISEME_POSES
from avbridge.render.portrait.decode import FRAME_WIDTH, PortraitDecoder

EXPRESSIONS = ("neutral", "happy", "sad", "surprised")
_BLINKS = [INDEX["eyeBlinkLeft"], INDEX["eyeBlinkRight"]]
_FACE = [INDEX[n] for n in ("browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
                            "cheekSquintLeft", "cheekSquintRight", "mouthSmileLeft", "mouthSmileRight",
                            "mouthFrownLeft", "mouthFrownRight", "eyeWideLeft", "eyeWideRight", "eyeSquintLeft", "eyeSquintRight")]


class FrameBank:
    def __init__(self, decoder: PortraitDecoder, expressions: tuple[str, ...] = EXPRESSIONS, intensity: float = 0.7) -> None:
        self.decoder = decoder
        started = time.perf_counter()
        x0, y0, x1, y1 = decoder.warp.box
        rest = decoder.rest_frame()
        weights, keys = [], []
        for expression in expressions:
            mood = emotion_pose(expression, intensity)
            for viseme in VISEME_POSES:
                for blink in (0.0, 1.0):
                    w = mood.copy()
                    w[MOUTH_CHANNELS] = np.maximum(w[MOUTH_CHANNELS], viseme[MOUTH_CHANNELS])
                    w[_BLINKS] = blink
                    frame = rest.copy()
                    frame[:52] = np.clip(w, 0, 1)
                    keys.append(decoder.render(frame)[y0:y1, x0:x1].copy())
                    weights.append(frame[:52])
        self.key_weights = np.array(weights)
        self.keys = np.array(keys)
        self.build_seconds = time.perf_counter() - started
        # Each channel group counts alike, whatever its number of channels.
        self._scale = np.zeros(52)
        for group in (MOUTH_CHANNELS, _FACE, _BLINKS):
            self._scale[group] = 1.0 / np.sqrt(len(group))
        self._flow = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        h, w = self.keys.shape[1:3]
        self._grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)), -1)
        self._feather = self._head_mask()

    @property
    def nbytes(self) -> int:
        return int(self.keys.nbytes)

    def nearest(self, weights: np.ndarray, count: int = 2) -> tuple[np.ndarray, np.ndarray]:
        """The `count` nearest keys and their mixing weights (inverse distance, summing to 1)."""
        distance = np.linalg.norm((self.key_weights - weights[None, :52]) * self._scale, axis=1)
        order = np.argsort(distance)[:count]
        inverse = 1.0 / (distance[order] + 1e-3)
        return order, inverse / inverse.sum()

    def render(self, frame: np.ndarray, method: str = "blend") -> np.ndarray:
        frame = np.asarray(frame, np.float64)
        if frame.shape != (FRAME_WIDTH,):
            raise ValueError(f"a frame has {FRAME_WIDTH} values (SPEC 8.3), not {frame.shape}")
        order, mix = self.nearest(frame)
        a, b = self.keys[order[0]], self.keys[order[1]]
        if method == "flow" and mix[1] > 0.05:
            face = self._morph(a, b, float(mix[1]))
        elif method in ("blend", "flow"):
            face = cv2.addWeighted(a, float(mix[0]), b, float(mix[1]), 0.0)
        else:
            raise ValueError(f"method is 'blend' or 'flow', not {method!r}")
        image = self.decoder.portrait.image.copy()
        x0, y0, x1, y1 = self.decoder.warp.box
        face = self._turn(face, frame)
        image[y0:y1, x0:x1] = face
        return image

    def _morph(self, a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
        """The in-between of two keys at t (0: a, 1: b) by DIS flow both ways."""
        grey_a, grey_b = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), cv2.cvtColor(b, cv2.COLOR_RGB2GRAY)
        ab = self._flow.calc(grey_a, grey_b, np.zeros(a.shape[:2] + (2,), np.float32))
        ba = self._flow.calc(grey_b, grey_a, np.zeros(a.shape[:2] + (2,), np.float32))
        from_a = cv2.remap(a, self._grid - t * ab, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        from_b = cv2.remap(b, self._grid - (1 - t) * ba, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return cv2.addWeighted(from_a, 1 - t, from_b, t, 0.0)

    def _head_mask(self) -> np.ndarray:
        """Where the face moves with a turn: the head with its hair (masks.py), feathered (box coordinates)."""
        x0, y0, x1, y1 = self.decoder.warp.box
        head = self.decoder.masks.head[y0:y1, x0:x1]
        size = max(3, int(0.06 * self.decoder.portrait.face_width) | 1)
        return cv2.GaussianBlur(head, (2 * size + 1, 2 * size + 1), size / 2)[..., None]

    def _turn(self, face: np.ndarray, frame: np.ndarray) -> np.ndarray:
        """The head's rotation as one homography of the face, fitted to where the decoder would
        move the landmarks for this rotation alone."""
        if not self.decoder.turning(frame):
            return face
        x0, y0, _, _ = self.decoder.warp.box
        source = self.decoder.portrait.points[:468][~self.decoder.silhouette[:468]]   # as the direct path steers
        turned = self.decoder.turn(source.copy(), frame)
        # A homography, not a similarity: a nod foreshortens the face vertically, which a
        # similarity cannot show (MediaPipe read almost no pitch back from it).
        matrix, _ = cv2.findHomography((source[:, :2] - (x0, y0)).astype(np.float32),
                                       (turned[:, :2] - (x0, y0)).astype(np.float32), 0)
        if matrix is None:
            return face
        h, w = face.shape[:2]
        moved = cv2.warpPerspective(face, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        mask = cv2.warpPerspective(self._feather, matrix, (w, h))[..., None]
        return (moved * mask + face * (1 - mask)).astype(np.uint8)
