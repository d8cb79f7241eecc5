"""Motion for speech that comes without a timeline (engine audio, `speak_audio`): the phones are
heard by the recogniser (perception/phone_recogniser.py), and when the line's text is known its
p, b and m are aligned to the audio and put in; the mouth is then made as on the text path
(motion/mouth.py) with the shapes of the viseme recogniser (perception/viseme_net.py)
blended in, with every p, b and m shut, and the head and brows follow the audio's accents
and pauses.

Without text the stream looks `lookahead_s` ahead: it animates audio in blocks of `block_s` once
the lookahead after a block has arrived, hearing each block with `context_s` of audio before it.
With text the whole line is aligned at once, so its frames come when its last piece arrives (the
engine has a recorded line whole; a line whose text cannot be aligned is heard instead).

Frames keep the generator contract (motion/__init__.py): after `finish`, pushes totalling S
samples have given ceil(S * fps / rate) frames, each returned Track saying where it starts.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from avbridge.core.audio import Resampler
from avbridge.core.phonemes import Phoneme
from avbridge.core.track import Track
from avbridge.motion.visemes import is_bilabial, viseme_recogniser
from avbridge.perception import viseme_net
from avbridge.perception.phone_recogniser import PhoneRecogniser, quiet_frames

DEFAULT_LOOKAHEAD_S = 0.5
DEFAULT_BLOCK_S = 1.0
DEFAULT_CONTEXT_S = 1.0
# The viseme recogniser needs 200 ms before a frame and 52.5 ms after: it hears each block with a
# little more either side, so that only the line's true ends are heard without context.
_VISEME_MARGIN_S = (0.3, 0.1)


class HeardSpeechStream:
    def __init__(self, inner, sample_rate: int, recogniser: PhoneRecogniser | None = None,
                 text: str | None = None, lookahead_s: float = DEFAULT_LOOKAHEAD_S,
                 block_s: float = DEFAULT_BLOCK_S, context_s: float = DEFAULT_CONTEXT_S) -> None:
        self.inner = inner                      # a ProceduralStream: has push_heard(pcm, phonemes)
        self.sample_rate = int(sample_rate)
        self.recogniser = recogniser or PhoneRecogniser()
        self.text = text.strip() if text and text.strip() else None
        self.lookahead_s, self.block_s, self.context_s = lookahead_s, block_s, context_s
        self._resampler = Resampler(self.sample_rate)
        self._heard = np.zeros(0, np.int16)     # all of the line at 16 kHz
        self._pending: list[np.ndarray] = []    # audio at the stream's rate not yet animated
        self._pending_samples = 0
        self._done_s = 0.0                      # audio time animated so far

    def push(self, pcm: np.ndarray, phonemes: Sequence[Phoneme] | None = None) -> Track:
        pcm = np.asarray(pcm, np.int16).reshape(-1)
        if phonemes:                            # a timeline after all: the text path as it is
            return self._join([self._flush_heard(), self.inner.push(pcm, phonemes)])
        self._heard = np.concatenate([self._heard, self._resampler.push(pcm)])
        self._pending.append(pcm)
        self._pending_samples += len(pcm)
        if self.text is not None:
            return Track.empty(self.inner.fps, self.inner.frames_out)
        tracks = []
        while self._pending_samples / self.sample_rate >= self.block_s + self.lookahead_s:
            tracks.append(self._animate(int(round(self.block_s * self.sample_rate))))
        return self._join(tracks)

    def finish(self) -> Track:
        self._heard = np.concatenate([self._heard, self._resampler.flush()])
        return self._join([self._flush_heard(), self.inner.finish()])

    # -------------------------------------------------------------------------------------------
    def _flush_heard(self) -> Track:
        if not self._pending_samples:
            return Track.empty(self.inner.fps, self.inner.frames_out)
        if self.text is not None:
            phonemes = self._aligned_line()
            if phonemes is not None:
                pcm = np.concatenate(self._pending)
                self._pending, self._pending_samples = [], 0
                start = self._done_s
                self._done_s += len(pcm) / self.sample_rate
                rows, rows_start = self._visemes(start, self._done_s)
                return self.inner.push_heard(pcm, phonemes, rows, rows_start)
        tracks = []
        while self._pending_samples:
            tracks.append(self._animate(min(self._pending_samples, int(round(self.block_s * self.sample_rate)))))
        return self._join(tracks)

    def _aligned_line(self) -> list[Phoneme] | None:
        """The phones heard in the whole line with the closures of its text (with_known_closures)."""
        r = self.recogniser
        tokens = r.text_tokens(self.text or "")
        log_probs, quiet = r.log_probs(self._heard), quiet_frames(self._heard)
        aligned = r.align(log_probs, tokens, quiet=quiet) if tokens else None
        if aligned is None:
            return None
        return with_known_closures(r.phonemes(log_probs, quiet=quiet), aligned)

    def _animate(self, samples: int) -> Track:
        """Hear and animate the next `samples` of pending audio."""
        pcm = np.concatenate(self._pending)
        block, rest = pcm[:samples], pcm[samples:]
        self._pending, self._pending_samples = ([rest] if len(rest) else []), len(rest)
        start = self._done_s
        end = start + len(block) / self.sample_rate
        lo = max(0.0, start - self.context_s)
        hi = end + self.lookahead_s
        window = self._heard[int(lo * 16000):int(hi * 16000)]
        r = self.recogniser
        heard = r.phonemes(r.log_probs(window), offset_s=lo - start, quiet=quiet_frames(window))
        self._done_s = end
        rows, rows_start = self._visemes(start, end)
        return self.inner.push_heard(block, heard, rows, rows_start)

    def _visemes(self, start: float, end: float) -> tuple[np.ndarray, float]:
        """The viseme recogniser's posteriors over [start, end) of the line (with its margins), and
        where their first row lies, in seconds from `start`."""
        lo = max(0.0, start - _VISEME_MARGIN_S[0])
        window = self._heard[int(round(lo * 16000)):int(round((end + _VISEME_MARGIN_S[1]) * 16000))]
        return viseme_net.posteriors(window, viseme_recogniser()), lo - start

    def _join(self, tracks: list[Track]) -> Track:
        tracks = [t for t in tracks if len(t)]
        if not tracks:
            return Track.empty(self.inner.fps, self.inner.frames_out)
        return tracks[0] if len(tracks) == 1 else Track.concatenate(tracks, tracks[0].fps)


def with_known_closures(heard: Sequence[Phoneme], aligned: Sequence[Phoneme]) -> list[Phoneme]:
    """The phones heard, with the lip closures of a known text put in: each p, b, m of the
    aligned text replaces what was heard over its span, and a p, b or m heard where the text has
    none becomes a pause-free neighbour (it was misheard).

    Why not the aligned phones alone: CTC places each phone's emission well but not its extent,
    and aligned consonants then crowd out the vowels (the mouth opened a third as wide as the
    speaker's on BEAT2, docs/quality.md "Real speech"); the free decoding keeps fewer, surer phones
    whose spans follow the audio."""
    closures = [p for p in aligned if is_bilabial(p.symbol)]
    out: list[Phoneme] = []
    for p in heard:
        if is_bilabial(p.symbol) and not any(c.start < p.end and p.start < c.end for c in closures):
            p = Phoneme("ə", p.start, p.end)        # a misheard closure: a neutral vowel, as loud as the audio
        pieces = [(p.start, p.end)]
        for c in closures:
            pieces = [q for a, b in pieces for q in ((a, min(b, c.start)), (max(a, c.end), b)) if q[1] > q[0] + 1e-9]
        out.extend(Phoneme(p.symbol, a, b, p.stress) for a, b in pieces)
    out.extend(closures)
    return sorted(out, key=lambda q: q.start)
