"""espeak-ng (formant synthesis) through its C library: robotic but instant, with exact phoneme
and word events. The fallback voice when Piper cannot load.

espeak-ng is GPL-3.0; avbridge loads the system library `libespeak-ng.so.1` at run time through
ctypes and uses only its synthesis and event API.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

import numpy as np

from avbridge.speech import Phoneme, SpeechChunk, SpeechUnavailable, Word
from avbridge.speech.timeline import PAUSE

# Constants from espeak-ng's speak_lib.h.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_PHONEME_IPA = 0x0002  # phoneme events spelled in IPA
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_EVENT_WORD, _EVENT_END, _EVENT_PHONEME = 1, 5, 7
_EVENT_LIST_TERMINATED = 0


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _EventId)]


_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                                  ctypes.POINTER(_Event))

_LIBRARY_LOCK = threading.Lock()  # espeak-ng keeps one global synthesiser per process


class EspeakEngine:
    name = "espeak"

    def __init__(self, voice: str = "en-us", rate_wpm: int = 165) -> None:
        path = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        try:
            lib = ctypes.CDLL(path)
        except OSError as exc:
            raise SpeechUnavailable(f"libespeak-ng is not installed ({exc}); apt-get install espeak-ng") from exc
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        with _LIBRARY_LOCK:
            rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 200, None,
                                         _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_PHONEME_IPA
                                         | _INITIALIZE_DONT_EXIT)
            if rate <= 0:
                raise SpeechUnavailable("espeak_Initialize failed (is espeak-ng-data installed?)")
            if lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise SpeechUnavailable(f"espeak-ng has no voice {voice!r}")
            lib.espeak_SetParameter(1, rate_wpm, 0)  # espeakRATE
        self._lib = lib
        self.sample_rate = rate
        self._voice = voice.encode()
        self._rate_wpm = rate_wpm
        self._samples: list[np.ndarray] = []
        self._events: list[tuple[int, int, int, int, str]] = []
        # Keep the ctypes callback object alive as long as the engine: espeak holds the pointer.
        self._callback = _SynthCallback(self._on_audio)

    def _on_audio(self, wav, count, events) -> int:
        if count > 0:
            self._samples.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            e = events[i]
            symbol = e.id.string.decode("utf-8", "replace") if e.type == _EVENT_PHONEME else ""
            self._events.append((e.type, e.sample, e.text_position, e.length, symbol))
            i += 1
        return 0

    def synthesize(self, text: str) -> SpeechChunk:
        encoded = text.encode("utf-8") + b"\0"
        with _LIBRARY_LOCK:
            self._samples, self._events = [], []
            self._lib.espeak_SetSynthCallback(self._callback)
            self._lib.espeak_SetVoiceByName(self._voice)
            self._lib.espeak_SetParameter(1, self._rate_wpm, 0)
            self._lib.espeak_Synth(encoded, len(encoded), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            samples, events = self._samples, self._events
        pcm = np.concatenate(samples).astype(np.int16) if samples else np.zeros(0, np.int16)
        return self._chunk(text, encoded, pcm, events)

    def _chunk(self, text: str, encoded: bytes, pcm: np.ndarray, events) -> SpeechChunk:
        sr = self.sample_rate
        total = len(pcm)
        marks = sorted((sample, kind, pos, length, sym) for kind, sample, pos, length, sym in events
                       if kind in (_EVENT_PHONEME, _EVENT_WORD))
        phonemes: list[Phoneme] = []
        starts = [(m[0], m[4]) for m in marks if m[1] == _EVENT_PHONEME and m[4].strip()]
        cursor = 0
        for i, (sample, symbol) in enumerate(starts):
            end = starts[i + 1][0] if i + 1 < len(starts) else total
            if sample > cursor:
                phonemes.append(Phoneme(PAUSE, cursor / sr, sample / sr))
            # espeak reports stress and length inside the phoneme string ("ˈa", "iː").
            clean = symbol.replace("ˈ", "").replace("ˌ", "").replace("ː", "") or PAUSE
            stress = 1 if "ˈ" in symbol else 2 if "ˌ" in symbol else 0
            phonemes.append(Phoneme(clean, sample / sr, max(end, sample) / sr, stress))
            cursor = max(end, sample)
        if cursor < total:
            phonemes.append(Phoneme(PAUSE, cursor / sr, total / sr))
        phonemes = _merge_pauses(phonemes)
        words: list[Word] = []
        word_marks = [m for m in marks if m[1] == _EVENT_WORD]
        for i, (sample, _, pos, length, _) in enumerate(word_marks):
            # text_position counts characters from 1 in the UTF-8 input.
            name = encoded[:-1].decode("utf-8", "replace")[max(pos - 1, 0):max(pos - 1, 0) + length]
            end = word_marks[i + 1][0] if i + 1 < len(word_marks) else total
            speech_end = max((p.end for p in phonemes if p.symbol != PAUSE and sample / sr <= p.start < end / sr),
                             default=end / sr)
            name = name.strip(".,!?;:\"()")
            if name:
                words.append(Word(name, sample / sr, speech_end))
        return SpeechChunk(text, pcm, sr, phonemes, words)


def _merge_pauses(phonemes: list[Phoneme]) -> list[Phoneme]:
    out: list[Phoneme] = []
    for p in phonemes:
        if p.end <= p.start and out:
            continue
        if out and p.symbol == PAUSE and out[-1].symbol == PAUSE:
            out[-1] = Phoneme(PAUSE, out[-1].start, p.end)
        else:
            out.append(p)
    return out
