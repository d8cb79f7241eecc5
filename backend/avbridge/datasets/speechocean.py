"""speechocean762 as frame-labelled speech for the viseme recogniser (perception/viseme_net.py).

The corpus (public repository jimbozhang/speechocean762: "free for commercial and non-commercial
purposes" per its README, Apache-2.0 on its dataset card): 5,245 16 kHz wavs of read English by
250 Mandarin-L1 adults and children, `WAVE/SPEAKERnnnn/<utt>.WAV`, transcripts in `train/text` and
`test/text`, speakers in `*/utt2spk`. It has no phone times: `align` gets them from PocketSphinx
(perception/phones.py) with the transcript and caches them, since that takes about 30 minutes on
two cores; utterances whose audio and text do not align (1,276 of 5,000: misread, noisy, or
words CMUdict lacks) are left out.

`augmented` makes the copies the recogniser also trains on, because the live input is anybody's
microphone in anybody's room: speed (0.9-1.1, which also moves pitch), level, band limits (a
headset's 100 Hz-4 kHz), a room (exponentially decaying noise as the impulse response) and noise
(white, pink or another utterance under the speech).

Shapes: Utterance.pcm int16 (N,) at 16 kHz; phones [(IPA symbol, start s, end s)] with "_" for
silence; frame_labels(phones, T) -> (T,) viseme indices for frames k at k * 10 ms.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from avbridge.core.audio import read_wav
from avbridge.datasets.corpus import DatasetError

Phones = list[tuple[str, float, float]]


@dataclass
class Utterance:
    id: str
    speaker: str
    split: str          # "train" or "test" (the corpus's own split: disjoint speakers)
    text: str
    path: Path


def utterances(root: str | Path) -> list[Utterance]:
    root = Path(root)
    out = []
    for split in ("train", "test"):
        text_file, speaker_file = root / split / "text", root / split / "utt2spk"
        if not text_file.is_file() or not speaker_file.is_file():
            raise DatasetError(f"{root}: not a speechocean762 checkout (no {split}/text or {split}/utt2spk)")
        speakers = dict(line.split() for line in speaker_file.read_text().splitlines() if line.strip())
        for line in text_file.read_text().splitlines():
            if not line.strip():
                continue
            utt, text = line.split(maxsplit=1)
            speaker = speakers[utt]
            out.append(Utterance(utt, speaker, split, text,
                                 root / "WAVE" / f"SPEAKER{int(speaker):04d}" / f"{utt}.WAV"))
    return out


def _align_one(utterance: Utterance) -> tuple[str, Phones | None]:
    from avbridge.perception.phones import force_align
    try:
        pcm, _ = read_wav(utterance.path)
        return utterance.id, [(p.symbol, p.start, p.end) for p in force_align(pcm, utterance.text)]
    except ValueError:
        return utterance.id, None


def align(items: list[Utterance], cache: str | Path, workers: int = 2,
          progress: Callable[[int, int], None] | None = None) -> dict[str, Phones]:
    """Phones of every utterance that aligns, from `cache` (json) where it has them."""
    cache = Path(cache)
    known: dict[str, Phones | None] = json.loads(cache.read_text()) if cache.is_file() else {}
    todo = [u for u in items if u.id not in known]
    if todo:
        with Pool(workers) as pool:
            for i, (utt, phones) in enumerate(pool.imap_unordered(_align_one, todo, chunksize=8)):
                known[utt] = phones
                if progress and i % 200 == 0:
                    progress(i, len(todo))
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(known))
    return {u.id: known[u.id] for u in items if known.get(u.id)}     # type: ignore[misc]


def frame_labels(phones: Phones, frames: int, viseme_of: Callable[[str], int], hop_s: float = 0.01) -> np.ndarray:
    """(frames,) the viseme index of the phone under each frame's centre (silence where none)."""
    labels = np.full(frames, viseme_of("_"), np.int64)
    for symbol, start, end in phones:
        first, last = int(np.ceil(start / hop_s)), int(np.ceil(end / hop_s))
        labels[max(first, 0):min(last, frames)] = viseme_of(symbol)
    return labels


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1.0))
    noise = np.fft.irfft(spectrum, n)
    return noise / (noise.std() + 1e-9)


def augmented(pcm: np.ndarray, phones: Phones, rng: np.random.Generator,
              babble: Iterator[np.ndarray] | None = None) -> tuple[np.ndarray, Phones]:
    """A random copy of an utterance as another microphone in another room might hear it, with
    its phone times moved to match."""
    import soxr
    from scipy.signal import butter, fftconvolve, sosfilt

    rate = 16000
    x = pcm.astype(np.float64) / 32768.0
    speed = float(rng.uniform(0.9, 1.1))
    # Played `speed` times faster: resample to rate / speed and read it back at `rate`.
    x = soxr.resample(x, rate, rate / speed)
    phones = [(s, a / speed, b / speed) for s, a, b in phones]
    if rng.random() < 0.35:
        seconds = float(rng.uniform(0.15, 0.6))             # RT60
        t = np.arange(int(seconds * rate)) / rate
        response = rng.standard_normal(len(t)) * np.exp(-6.9 * t / seconds)
        response[0] = 1.0 / float(rng.uniform(0.3, 1.0))   # the direct sound, over the room
        wet = fftconvolve(x, response)[:len(x)]
        x = wet / (np.abs(wet).max() + 1e-9) * np.abs(x).max()
    if rng.random() < 0.5:
        x = sosfilt(butter(2, float(rng.uniform(80, 300)), btype="highpass", fs=rate, output="sos"), x)
    if rng.random() < 0.35:
        x = sosfilt(butter(4, float(rng.uniform(3400, 7000)), btype="lowpass", fs=rate, output="sos"), x)
    if rng.random() < 0.7:
        speech = float(np.sqrt(np.mean(x ** 2)) + 1e-9)
        kind = rng.random()
        if kind < 0.35:
            noise = rng.standard_normal(len(x))
        elif kind < 0.7 or babble is None:
            noise = _pink(len(x), rng)
        else:
            other = next(babble).astype(np.float64)
            noise = np.resize(other, len(x))
            noise /= noise.std() + 1e-9
        snr_db = float(rng.uniform(5, 30))
        x = x + noise * speech / 10 ** (snr_db / 20)
    x *= 10 ** (float(rng.uniform(-20, 4)) / 20)
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16), phones
