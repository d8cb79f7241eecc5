"""A synthetic corpus: sentences spoken by a local voice and animated by the procedural generator.

For smoke tests of the training pipeline only (a model trained on it can only learn the
procedural generator back); real training data comes from captures (facegood.py,
livelink_take.py, video.py). Its clips carry the voice's phoneme timeline, so they exercise the
phoneme-token input that capture corpora without transcripts leave empty.
"""

from __future__ import annotations

import numpy as np

from avbridge.core.audio import to_analysis_rate
from avbridge.core.track import Track
from avbridge.datasets.corpus import Clip
from avbridge.motion import MotionParams, load_generator
from avbridge.motion.flow.features import MOTION_DIM, motion_from_track

FPS = 30.0

_SUBJECTS = ["The baker", "My brother", "A small boy", "The mayor", "Our neighbour", "The pilot", "Maybe the poet",
             "The old man", "Bobby", "The captain", "Pam", "The farmer", "Every member", "The umpire", "A happy puppy"]
_VERBS = ["bought", "brought back", "painted", "promised", "borrowed", "mentioned", "played with", "opened",
          "spilled", "measured", "photographed", "wrapped up", "described", "forgot about", "picked"]
_OBJECTS = ["a bag of apples", "the blue map", "some purple paper", "the map of Bombay", "a bottle of maple syrup",
            "twelve pumpkins", "the broken umbrella", "a box of pencils", "a bowl of soup", "the piano",
            "the bamboo lamp", "a warm woollen jumper", "the empty boat", "seventeen books", "the poem"]
_ENDINGS = ["before breakfast.", "in the morning.", "with both hands.", "by the pond.", "at the market, maybe twice.",
            "for his mother.", "on Monday.", "without a problem.", "behind the barn.", "because it was cheap.",
            "while humming a song.", "and then fell asleep.", "at about five pm.", "near the embassy.", "upon request."]


def sentences(n: int, seed: int = 7) -> list[str]:
    """Sentences built from the word lists above: varied, and dense in p, b and m."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        out.append(f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} {rng.choice(_ENDINGS)}")
    return out



def synthetic_clips(count: int, engine: str = "espeak", seed: int = 0) -> list[Clip]:
    """`count` sentences (see `sentences`) -> clips at 30 fps with their phoneme timelines."""
    from avbridge.speech import load_engine
    voice = load_engine(engine)
    generator = load_generator("procedural")
    clips = []
    for i, text in enumerate(sentences(count, seed=7 + seed)):
        speech = voice.synthesize(text)
        stream = generator.start(FPS, speech.sample_rate, MotionParams(), seed + i)
        track = Track.concatenate([stream.push(speech.pcm, speech.phonemes), stream.finish()], FPS)
        pcm = to_analysis_rate(speech.pcm, speech.sample_rate)
        motion = motion_from_track(track)
        clips.append(Clip(f"synthetic_{i:03d}", "synthetic", FPS, motion, np.ones(MOTION_DIM, bool),
                          np.ones(len(motion), bool), pcm, list(speech.phonemes), {"text": text, "engine": engine}))
    return clips
