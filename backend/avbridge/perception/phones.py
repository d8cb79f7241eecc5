"""Phones from audio: streaming phone recognition, and forced alignment of a known text.

PocketSphinx (BSD licence; the en-us acoustic model, phone language model and CMUdict ship in the
`pocketsphinx` wheel). Phone recognition ("allphone" search) runs incrementally: each push decodes
the new audio and the best path so far is read back with its segment times. A phone is usually on
the best path 25 ms after it ends (p90 70 ms, measured on the BEAT recording), and the path
behind that rarely changes, which is what lets lips follow a live voice with about 100 ms of delay.

ARPAbet labels are mapped to the IPA symbols the rest of the package uses (motion/visemes.py).

Shapes: PhoneRecognizer.push(int16 at 16 kHz) -> None; .phonemes() -> list[Phoneme] with times in
seconds from the first sample pushed (PAUSE "_" for silence and noise).
"""

from __future__ import annotations

import os

import numpy as np

from avbridge.perception import SAMPLE_RATE
from avbridge.speech import Phoneme
from avbridge.speech.timeline import PAUSE

ARPABET_TO_IPA = {
    "AA": "ɑ", "AE": "æ", "AH": "ʌ", "AO": "ɔ", "AW": "aʊ", "AY": "aɪ", "EH": "ɛ", "ER": "ɝ", "EY": "eɪ",
    "IH": "ɪ", "IY": "i", "OW": "oʊ", "OY": "ɔɪ", "UH": "ʊ", "UW": "u",
    "B": "b", "CH": "tʃ", "D": "d", "DH": "ð", "F": "f", "G": "ɡ", "HH": "h", "JH": "dʒ", "K": "k",
    "L": "l", "M": "m", "N": "n", "NG": "ŋ", "P": "p", "R": "ɹ", "S": "s", "SH": "ʃ", "T": "t",
    "TH": "θ", "V": "v", "W": "w", "Y": "j", "Z": "z", "ZH": "ʒ",
}
_FRAME_S = 0.01              # PocketSphinx's frame: 10 ms


def _model_dir() -> str:
    from pocketsphinx import get_model_path
    return os.path.join(get_model_path(), "en-us")


def _to_phonemes(segments, offset_s: float = 0.0) -> list[Phoneme]:
    out: list[Phoneme] = []
    for label, start_frame, end_frame in segments:
        symbol = ARPABET_TO_IPA.get(label.split("(")[0].upper(), PAUSE)   # SIL, +NSN+, +SPN+... are pauses
        start, end = offset_s + start_frame * _FRAME_S, offset_s + (end_frame + 1) * _FRAME_S
        if out and out[-1].symbol == PAUSE and symbol == PAUSE:
            out[-1] = Phoneme(PAUSE, out[-1].start, end)
        else:
            out.append(Phoneme(symbol, start, end))
    return out


class PhoneRecognizer:
    """Incremental phone recognition of one audio stream.

    A decode restarts every `restart_s` of audio at a pause, so the search (and its cost per push)
    does not grow with the stream; phones before the restart are kept as decided."""

    def __init__(self, restart_s: float = 8.0) -> None:
        from pocketsphinx import Decoder
        self._decoder = Decoder(samprate=SAMPLE_RATE, allphone=os.path.join(_model_dir(), "en-us-phone.lm.bin"),
                                lm=None, loglevel="FATAL", beam=1e-20, pbeam=1e-20, lw=2.0)
        self._restart_s = restart_s
        self._decided: list[Phoneme] = []      # phones of finished decodes
        self._utt_start = 0.0                  # where the current decode began, seconds
        self._received = 0
        self._decoder.start_utt()

    @property
    def time(self) -> float:
        return self._received / SAMPLE_RATE

    def push(self, pcm: np.ndarray) -> None:
        pcm = np.ascontiguousarray(pcm, np.int16)
        if len(pcm) == 0:
            return
        self._decoder.process_raw(pcm.tobytes(), False, False)
        self._received += len(pcm)
        if self.time - self._utt_start >= self._restart_s:
            current = self._current()
            if current and current[-1].symbol == PAUSE and current[-1].end - current[-1].start >= 0.1:
                self._decoder.end_utt()
                self._decided.extend(self._current())
                self._decoder.start_utt()
                self._utt_start = self.time

    def _current(self) -> list[Phoneme]:
        segments = self._decoder.seg() or []
        return _to_phonemes(((s.word, s.start_frame, s.end_frame) for s in segments), self._utt_start)

    def phonemes(self, since: float = 0.0) -> list[Phoneme]:
        """The best phone path so far, from `since` seconds on; the last phone runs to the end of
        the audio received."""
        path = [p for p in self._decided if p.end > since] + self._current()
        if path and path[-1].end < self.time:
            last = path[-1]
            path[-1] = Phoneme(last.symbol, last.start, self.time, last.stress)
        elif not path:
            path = [Phoneme(PAUSE, since, max(self.time, since))]
        return path

    def forget_before(self, t: float) -> None:
        self._decided = [p for p in self._decided if p.end > t]


def force_align(pcm: np.ndarray, text: str) -> list[Phoneme]:
    """Phones of a known `text` aligned to `pcm` (int16, 16 kHz) with PocketSphinx and CMUdict.
    Words missing from the dictionary make the alignment fail with ValueError naming them."""
    from pocketsphinx import Decoder
    words = [w for w in "".join(c.lower() if c.isalpha() or c in "' " else " " for c in text).split()]
    decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
    missing = [w for w in words if decoder.lookup_word(w) is None]
    if missing:
        raise ValueError(f"not in the pronouncing dictionary: {', '.join(sorted(set(missing)))}")
    raw = np.ascontiguousarray(pcm, np.int16).tobytes()
    try:
        decoder.set_align_text(" ".join(words))
        decoder.start_utt()
        decoder.process_raw(raw, full_utt=True)
        decoder.end_utt()
        decoder.set_alignment()
        decoder.start_utt()
        decoder.process_raw(raw, full_utt=True)
        decoder.end_utt()
        alignment = decoder.get_alignment()
    except RuntimeError:       # PocketSphinx found no path through the words
        alignment = None
    if alignment is None:
        raise ValueError("the alignment failed: the audio and the text do not match")
    return _to_phonemes((p.name, p.start, p.start + p.duration - 1) for word in alignment for p in word)
