"""One photo, animated by the stream's codes (52 ARKit weights, head pose, gaze): a 2D portrait.

    portrait = fit_portrait(rgb)              # once: landmarks, pose, a per-portrait motion basis
    decoder = PortraitDecoder(portrait)
    image = decoder.render(frame)             # frame: the 63 floats of SPEC 8.3

fit.py finds the face and transfers the ARKit reference mesh's blendshapes onto its landmarks;
decode.py turns a frame into landmark targets and one dense warp of the photo, then paints what a
warp cannot make: the mouth's inside, closed eyelids, moved irises.
"""

from avbridge.render.portrait.decode import PortraitDecoder
from avbridge.render.portrait.fit import Portrait, PortraitError, fit_portrait

__all__ = ["Portrait", "PortraitDecoder", "PortraitError", "fit_portrait"]
