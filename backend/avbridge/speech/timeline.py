"""Per-symbol sample counts (as a TTS aligner reports them) -> phoneme and word intervals.

espeak-style IPA, as Piper consumes it, is a sequence of code points in which stress marks
(ˈ ˌ), the length mark (ː), combining diacritics and the word-separating space are tokens of their
own, each with a duration. None of them is a mouth shape, so their time is given to the
neighbouring phonemes: length and diacritics to the phoneme before, stress half to each side (the
model spends that time on the transition), spaces half to each side (so the mouth does not close
between words). Punctuation and the sentence start/end markers become pauses, written "_".
"""

from __future__ import annotations

import unicodedata
from typing import Sequence

from avbridge.speech import Phoneme, Word

PAUSE = "_"
_PAUSE_SYMBOLS = set("^$_.,!?;:-\"'()…") | {"↓", "#"}
_TO_PREVIOUS = {"ː", "ˑ", "ʰ", "ʲ", "˞", "̃"}
_SPLIT = {"ˈ", "ˌ", " "}


def _is_pause(symbol: str) -> bool:
    return symbol in _PAUSE_SYMBOLS


def timeline_from_sample_counts(symbols: Sequence[str], samples: Sequence[int], sample_rate: int
                                ) -> tuple[list[Phoneme], list[float]]:
    """Phonemes (with pauses) covering [0, sum(samples)/sample_rate] without gaps, and the start
    times of phonemes that follow a word-separating space (word boundaries inside a phrase)."""
    if len(symbols) != len(samples):
        raise ValueError(f"{len(symbols)} symbols but {len(samples)} durations")
    # Each entry: [symbol, start_sample, end_sample]
    merged: list[list] = []
    carry = 0  # samples owed to the next phoneme
    position = 0
    word_start_pending = False
    word_starts: list[int] = []
    pending_stress = 0
    stresses: list[int] = []     # one per entry of `merged`
    for symbol, count in zip(symbols, samples):
        count = int(count)
        start, position = position, position + count
        if symbol == " ":
            word_start_pending = True
        elif symbol in ("ˈ", "ˌ"):
            pending_stress = 1 if symbol == "ˈ" else 2
        if symbol in _SPLIT:
            half = count // 2
            if merged and not _is_pause(merged[-1][0]):
                merged[-1][2] += half
                carry += count - half
            else:
                carry += count
            continue
        if (symbol in _TO_PREVIOUS or unicodedata.combining(symbol)) and merged:
            merged[-1][2] += count
            continue
        if _is_pause(symbol):
            symbol = PAUSE
        start -= carry
        carry = 0
        if word_start_pending and symbol != PAUSE:
            word_starts.append(start)
        word_start_pending = False
        if merged and merged[-1][0] == PAUSE and symbol == PAUSE:
            merged[-1][2] = position
            continue
        merged.append([symbol, start, position])
        # espeak puts the stress mark before the stressed vowel
        stresses.append(pending_stress if symbol != PAUSE else 0)
        if symbol != PAUSE:
            pending_stress = 0
    if carry and merged:
        merged[-1][2] += carry
    phonemes = [Phoneme(s, a / sample_rate, b / sample_rate, stress)
                for (s, a, b), stress in zip(merged, stresses)]
    return phonemes, [w / sample_rate for w in word_starts]


def words_from_timeline(phonemes: Sequence[Phoneme], text: str, boundaries: Sequence[float] = ()
                        ) -> list[Word]:
    """Word intervals: runs of phonemes between pauses, split further at `boundaries` (seconds)
    where the engine marked word starts. Names come from `text` when the counts agree; otherwise
    words are matched in order and any surplus is merged into the last one."""
    cut_times = sorted(boundaries)
    runs: list[list[Phoneme]] = []
    for p in phonemes:
        if p.symbol == PAUSE:
            if runs and runs[-1]:
                runs.append([])
            continue
        if not runs:
            runs.append([])
        if runs[-1] and any(abs(p.start - b) < 1e-6 for b in cut_times):
            runs.append([])
        runs[-1].append(p)
    runs = [r for r in runs if r]
    names = [w for w in (t.strip(".,!?;:\"()") for t in text.split()) if w]
    if not runs:
        return []
    if len(names) > len(runs):
        names = names[: len(runs) - 1] + [" ".join(names[len(runs) - 1:])]
    names += [""] * (len(runs) - len(names))
    return [Word(name, run[0].start, run[-1].end) for name, run in zip(names, runs)]
