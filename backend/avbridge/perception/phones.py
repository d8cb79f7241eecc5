"""Phones of a known text aligned to its audio: the reference that voice-only lip sync is scored
against (docs/quality.md).

PocketSphinx (BSD licence; the en-us acoustic model and CMUdict ship in the `pocketsphinx` wheel).
ARPAbet labels are mapped to the IPA symbols the rest of the package uses (motion/visemes.py).

Its phone recogniser ("allphone" search) was measured for live lips and not used: it found 1 of 5
bilabials in the BEAT excerpt even offline (motion/voice_lips.py says what is used instead).

Shapes: force_align(int16 at 16 kHz, text) -> list[Phoneme], seconds from the first sample (PAUSE
"_" for silence and noise).
"""

from __future__ import annotations

import numpy as np

from avbridge.core.audio import ANALYSIS_RATE
from avbridge.core.phonemes import Phoneme
from avbridge.speech.timeline import PAUSE

ARPABET_TO_IPA = {
    "AA": "ɑ", "AE": "æ", "AH": "ʌ", "AO": "ɔ", "AW": "aʊ", "AY": "aɪ", "EH": "ɛ", "ER": "ɝ", "EY": "eɪ",
    "IH": "ɪ", "IY": "i", "OW": "oʊ", "OY": "ɔɪ", "UH": "ʊ", "UW": "u",
    "B": "b", "CH": "tʃ", "D": "d", "DH": "ð", "F": "f", "G": "ɡ", "HH": "h", "JH": "dʒ", "K": "k",
    "L": "l", "M": "m", "N": "n", "NG": "ŋ", "P": "p", "R": "ɹ", "S": "s", "SH": "ʃ", "T": "t",
    "TH": "θ", "V": "v", "W": "w", "Y": "j", "Z": "z", "ZH": "ʒ",
}
_FRAME_S = 0.01              # PocketSphinx's frame: 10 ms


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


def force_align(pcm: np.ndarray, text: str) -> list[Phoneme]:
    """Phones of a known `text` aligned to `pcm` (int16, 16 kHz) with PocketSphinx and CMUdict.
    Words missing from the dictionary make the alignment fail with ValueError naming them."""
    from pocketsphinx import Decoder
    words = [w for w in "".join(c.lower() if c.isalpha() or c in "' " else " " for c in text).split()]
    decoder = Decoder(samprate=ANALYSIS_RATE, loglevel="FATAL")
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
