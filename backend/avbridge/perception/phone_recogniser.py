"""Phones heard in speech: a CTC phoneme recogniser, decoded freely or aligned to a known text.

The recogniser is hama's (Apache-2.0, the `hama` wheel: its own CPU engine, numpy only; its
training data is not stated by its authors). It takes 16 kHz audio and gives 50 frames a second
of log-probabilities over 191 IPA tokens plus a word boundary and the CTC blank. It covers more
than English (its inventory holds Korean, Mandarin and European sounds), and its G2P turns
English text into the same tokens, so a known line can be aligned to its audio with CTC.

CTC emits each phone on one frame, usually after the phone has begun (measured against
PocketSphinx forced alignment on real speech: docs/quality.md "Real speech"); `EMISSION_DELAY_S`
moves the spans back by that delay. A phone lasts from its emission to the next one, at most
`MAX_PHONE_S`; the rest of a long gap is a pause.

Shapes: log_probs(int16 (N,) at 16 kHz) -> (about N / 320, 191) float32, frame k covering
[k * 0.02, (k + 1) * 0.02) s; phonemes(...) / align(...) -> list[Phoneme], seconds from pcm[0].
"""

from __future__ import annotations

import threading
from typing import Sequence

import numpy as np

from avbridge.core.phonemes import Phoneme
from avbridge.speech.timeline import PAUSE

FRAME_S = 0.02
EMISSION_DELAY_S = 0.04
MAX_PHONE_S = 0.25
WINDOW_S, OVERLAP_S = 4.0, 1.0
_MODEL_LOCK = threading.Lock()
_MODELS: dict[str, object] = {}


def _model(kind: str):
    """One hama model of each kind per process: loading takes ~0.3 s and the engine is stateless
    between calls (guarded by a lock all the same)."""
    with _MODEL_LOCK:
        if kind not in _MODELS:
            import hama
            _MODELS[kind] = hama.ASRModel() if kind == "asr" else hama.G2PModel()
        return _MODELS[kind]


class PhoneRecogniser:
    def __init__(self, emission_delay_s: float = EMISSION_DELAY_S) -> None:
        self.asr = _model("asr")
        self.tokens: list[str] = list(self.asr.decoder_tokens)
        self.blank = int(self.asr.blank_id)
        self.word_boundary = self.tokens.index("<wb>")
        self._ids = {t: i for i, t in enumerate(self.tokens)}
        self.emission_delay_s = emission_delay_s

    def log_probs(self, pcm: np.ndarray) -> np.ndarray:
        """Long audio is heard in windows of WINDOW_S with OVERLAP_S on each side: the model hears
        fewer and fewer phones the longer its input (on BEAT2's 63 s in one pass, half as many as
        in windows, and the mouth opened half as wide)."""
        pcm = np.asarray(pcm, np.int16)
        step, overlap = int(WINDOW_S * 16000), int(OVERLAP_S * 16000)
        if len(pcm) <= step + 2 * overlap:
            return self._log_probs(pcm)
        frames = int(np.ceil(len(pcm) / 320))
        pieces = []
        for start in range(0, len(pcm), step):          # step and overlap are whole frames
            lo = max(0, start - overlap)
            out = self._log_probs(pcm[lo:start + step + overlap])
            first = (start - lo) // 320
            pieces.append(out[first:first + step // 320])
        return np.concatenate(pieces)[:frames]

    def _log_probs(self, pcm: np.ndarray) -> np.ndarray:
        x = np.asarray(pcm, np.int16).astype(np.float32) / 32768.0
        if len(x) < 400:                    # shorter than one analysis window: nothing to hear
            return np.full((0, len(self.tokens)), -np.inf, np.float32)
        asr = self.asr
        feeds = {asr._waveform_input_name: x.reshape(1, -1),
                 asr._waveform_lengths_input_name: np.array([len(x)], np.int64)}
        with _MODEL_LOCK:
            out, lengths = asr.session.run([asr._log_probs_output_name, asr._out_lengths_output_name], feeds)
        return np.asarray(out[0][:int(np.asarray(lengths).reshape(-1)[0])], np.float32)

    # -- free decoding --------------------------------------------------------------------------
    def phonemes(self, log_probs: np.ndarray, offset_s: float = 0.0, quiet: np.ndarray | None = None) -> list[Phoneme]:
        """Greedy CTC decoding: a phone where a frame's best token is not the blank and differs
        from the frame before. `quiet` (T,) bool marks frames without speech (`quiet_frames`):
        no phone lasts into them."""
        best = log_probs.argmax(axis=1) if len(log_probs) else np.zeros(0, int)
        emissions, previous = [], -1
        for frame, token in enumerate(best.tolist()):
            if token != previous and self._is_phone(token):
                emissions.append((frame, self.tokens[token]))
            previous = token
        return self._spans(emissions, len(best), offset_s, quiet)

    def _is_phone(self, token: int) -> bool:
        """Not the blank, a word boundary, a control token or punctuation."""
        return token not in (self.blank, self.word_boundary) and token >= 4 and self.tokens[token][:1].isalpha()

    # -- a known text ---------------------------------------------------------------------------
    def text_tokens(self, text: str) -> list[str]:
        """The text's phones in the recogniser's tokens (hama's G2P; English)."""
        words = "".join(c if c.isalpha() or c in "' " else " " for c in text.lower()).split()
        if not words:
            return []
        ipa = _model("g2p").predict(" ".join(words)).alignments
        return [a.phoneme for a in ipa if a.phoneme in self._ids and self._is_phone(self._ids[a.phoneme])]

    def align(self, log_probs: np.ndarray, tokens: Sequence[str], offset_s: float = 0.0,
              quiet: np.ndarray | None = None) -> list[Phoneme] | None:
        """CTC forced alignment (Viterbi) of `tokens` to the frames; None when they cannot fit
        (more phones than frames allow)."""
        ids = [self._ids[t] for t in tokens]
        frames = ctc_align(log_probs, ids, self.blank)
        if frames is None:
            return None
        return self._spans(list(zip(frames, tokens)), len(log_probs), offset_s, quiet)

    def _spans(self, emissions: list[tuple[int, str]], frames: int, offset_s: float,
               quiet: np.ndarray | None) -> list[Phoneme]:
        out: list[Phoneme] = []
        shift = offset_s - self.emission_delay_s
        longest = int(round(MAX_PHONE_S / FRAME_S))
        # The first quiet frame at or after each frame (frames if none): a phone stops where the
        # speech does.
        q = np.zeros(frames + 1, bool)
        if quiet is not None:
            q[:min(frames, len(quiet))] = quiet[:frames]
        q[frames] = True
        silent_from = np.minimum.accumulate(np.where(q, np.arange(frames + 1), frames)[::-1])[::-1]
        cursor = 0
        for i, (frame, symbol) in enumerate(emissions):
            following = emissions[i + 1][0] if i + 1 < len(emissions) else frames
            if frame > cursor:
                _append_pause(out, cursor * FRAME_S + shift, frame * FRAME_S + shift)
            end = min(following, frame + longest, max(int(silent_from[min(frame + 1, frames)]), frame + 1))
            out.append(Phoneme(symbol, frame * FRAME_S + shift, max(end, frame + 1) * FRAME_S + shift))
            cursor = max(end, frame + 1)
        if frames > cursor:
            _append_pause(out, cursor * FRAME_S + shift, frames * FRAME_S + shift)
        return out


def quiet_frames(pcm: np.ndarray, below_speech_db: float = 30.0) -> np.ndarray:
    """(ceil(N / 320),) bool: 20 ms frames more than `below_speech_db` under the audio's loud
    level (its 95th percentile), or under -60 dBFS."""
    x = np.asarray(pcm, np.float64)
    n = int(np.ceil(len(x) / 320))
    padded = np.zeros(n * 320)
    padded[:len(x)] = x
    rms = np.sqrt((padded.reshape(n, 320) ** 2).mean(axis=1)) + 1e-9
    loud = np.percentile(rms, 95) if n else 1.0
    return (20 * np.log10(rms / loud) < -below_speech_db) | (rms < 32.768)


def _append_pause(out: list[Phoneme], start: float, end: float) -> None:
    if out and out[-1].symbol == PAUSE:
        out[-1] = Phoneme(PAUSE, out[-1].start, end)
    else:
        out.append(Phoneme(PAUSE, start, end))


def ctc_align(log_probs: np.ndarray, ids: Sequence[int], blank: int) -> list[int] | None:
    """The frame on which each of `ids` is first emitted on the most likely CTC path that spells
    exactly `ids` (blanks between and around, repeats of a token needing a blank between them).
    Written here because the standard implementations (torchaudio's forced_align) would bring
    torch into the base install for 40 lines of dynamic programming."""
    T, L = len(log_probs), len(ids)
    if L == 0:
        return []
    labels = np.full(2 * L + 1, blank, np.int64)
    labels[1::2] = ids
    S = len(labels)
    # A state may be entered from itself, the one before, or (a token after a blank, unless it
    # repeats the token before) two before.
    skip = np.zeros(S, bool)
    skip[3::2] = labels[3::2] != labels[1:-2:2]
    emit = log_probs[:, labels]                                   # (T, S)
    score = np.full(S, -np.inf)
    score[:2] = emit[0, :2]
    back = np.zeros((T, S), np.int8)                              # 0 stay, 1 from s-1, 2 from s-2
    for t in range(1, T):
        stay = score
        step = np.concatenate([[-np.inf], score[:-1]])
        jump = np.where(skip, np.concatenate([[-np.inf, -np.inf], score[:-2]]), -np.inf)
        choices = np.stack([stay, step, jump])
        back[t] = choices.argmax(axis=0)
        score = choices.max(axis=0) + emit[t]
    end = S - 1 if score[S - 1] >= score[S - 2] else S - 2
    if not np.isfinite(score[end]):
        return None
    first = [0] * L
    s = end
    for t in range(T - 1, -1, -1):
        if s % 2 == 1:
            first[s // 2] = t
        s -= int(back[t, s]) if t > 0 else 0
    return first
