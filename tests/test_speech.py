import numpy as np
import pytest
from avbridge.speech import load_engine
from avbridge.speech.timeline import PAUSE, timeline_from_sample_counts


@pytest.fixture(scope="module", params=["piper", "espeak"])
def engine(request):
    return load_engine(request.param)


def test_speech_is_audible_and_the_timeline_covers_it(engine):
    chunk = engine.synthesize("Bob paid for my map, and the woman waved!")
    assert chunk.pcm.dtype == np.int16 and chunk.duration > 1.0
    assert np.sqrt(np.mean(chunk.pcm.astype(np.float64) ** 2)) > 500       # not silence
    phonemes = chunk.phonemes
    assert phonemes[0].start == 0.0
    assert phonemes[-1].end == pytest.approx(chunk.duration, abs=0.02)
    for a, b in zip(phonemes, phonemes[1:]):
        assert a.end == pytest.approx(b.start, abs=1e-9) and a.end >= a.start
    symbols = [p.symbol for p in phonemes if p.symbol != PAUSE]
    assert symbols.count("b") + symbols.count("p") + symbols.count("m") >= 5
    assert [w.text for w in chunk.words] == ["Bob", "paid", "for", "my", "map", "and", "the", "woman", "waved"]


def test_stress_and_length_marks_give_their_time_to_neighbours():
    phonemes, word_starts = timeline_from_sample_counts(
        ["^", "h", "ˈ", "e", "ː", " ", "b", ".", "$"], [100, 100, 50, 100, 40, 60, 100, 200, 50], 1000)
    assert [p.symbol for p in phonemes] == [PAUSE, "h", "e", "b", PAUSE]
    assert [round(p.end - p.start, 3) for p in phonemes] == [0.1, 0.125, 0.195, 0.13, 0.25]
    assert word_starts == [pytest.approx(0.42)]
