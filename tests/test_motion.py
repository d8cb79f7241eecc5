import numpy as np
import pytest
from avbridge.core.track import Track
from avbridge.motion import MotionParams, frames_covering, load_generator
from avbridge.motion.visemes import LIPS_CLOSED_BELOW, is_bilabial, lip_gap, viseme_of
from avbridge.speech import load_engine

SENTENCES = ["Bob paid for my map, and the woman waved!",
             "Maybe people prefer pumpkin pie with maple, but my mom bakes apple bread.",
             "Hmm. Sometimes the simplest problems become impossible."]


@pytest.fixture(scope="module")
def speech():
    engine = load_engine("piper")
    return [engine.synthesize(s) for s in SENTENCES]


def test_frame_count_follows_the_audio(speech):
    for fps in (30, 60, 90):
        for chunk in speech:
            track = load_generator().start(fps, chunk.sample_rate, seed=0).push(chunk.pcm, chunk.phonemes)
            assert len(track) == frames_covering(len(chunk.pcm), fps, chunk.sample_rate)
            assert len(track) == int(np.ceil(chunk.duration * fps - 1e-9))


def test_lips_close_on_every_bilabial(speech):
    for chunk in speech:
        track = load_generator().start(60, chunk.sample_rate, seed=1).push(chunk.pcm, chunk.phonemes)
        gap = lip_gap(track.blendshapes)
        t = np.arange(len(track)) / 60
        for p in chunk.phonemes:
            if is_bilabial(p.symbol):
                inside = (t >= p.start - 1 / 120) & (t <= p.end + 1 / 120)
                assert (gap[inside] < LIPS_CLOSED_BELOW).any(), f"{p} in {chunk.text!r}"


def test_vowels_open_the_mouth_and_jaw_follows_loudness(speech):
    chunk = speech[0]
    track = load_generator().start(60, chunk.sample_rate, seed=1).push(chunk.pcm, chunk.phonemes)
    t = np.arange(len(track)) / 60
    vowels = [p for p in chunk.phonemes if viseme_of(p.symbol) in ("aa", "E", "O")]
    open_frames = [lip_gap(track.blendshapes)[np.argmin(abs(t - (p.start + p.end) / 2))] for p in vowels]
    assert np.mean(open_frames) > 0.2
    quiet = chunk.pcm.copy() // 8
    soft = load_generator().start(60, chunk.sample_rate, seed=1)
    soft._loudness_peak = 12000.0   # the same reference level, so the quieter take reads as quieter
    loud = load_generator().start(60, chunk.sample_rate, seed=1)
    loud._loudness_peak = 12000.0
    assert soft.push(quiet, chunk.phonemes).channel("jawOpen").mean() < loud.push(chunk.pcm, chunk.phonemes).channel("jawOpen").mean()


def test_values_in_range_and_head_quaternions_unit(speech):
    for chunk in speech:
        params = MotionParams(emotion="surprised", emotion_intensity=1.0, expressiveness=2.0)
        track = load_generator().start(60, chunk.sample_rate, params, seed=2).push(chunk.pcm, chunk.phonemes)
        assert track.blendshapes.min() >= 0 and track.blendshapes.max() <= 1
        assert np.allclose(np.linalg.norm(track.head[:, :4], axis=1), 1, atol=1e-5)
        # Human range for talking, at twice the usual expressiveness: BEAT2's standing speaker
        # (docs/quality.md "Real speech") turns up to about 20 degrees.
        assert np.degrees(np.abs(track.head_euler())).max() < 25


def test_blinks_head_and_gaze_do_not_depend_on_how_audio_is_chunked(speech):
    """Blinks and gaze depend on time alone, nods on audio up to each frame: the same however the
    audio is cut."""
    chunk = speech[1]
    whole = load_generator().start(60, chunk.sample_rate, seed=3).push(chunk.pcm, None)
    stream = load_generator().start(60, chunk.sample_rate, seed=3)
    parts = [stream.push(chunk.pcm[i:i + 3000], None) for i in range(0, len(chunk.pcm), 3000)]
    pieces = Track.concatenate(parts, 60)
    assert len(pieces) == len(whole)
    assert np.array_equal(pieces.gaze, whole.gaze)
    assert np.array_equal(pieces.channel("eyeBlinkLeft"), whole.channel("eyeBlinkLeft"))
    difference = np.degrees(np.abs(pieces.head_euler() - whole.head_euler()))
    assert difference.max() < 1e-3


def test_blinks_at_a_human_rate_and_length(speech):
    pcm = np.concatenate([c.pcm for c in speech] * 6)             # about a minute of speech
    rate = speech[0].sample_rate
    track = load_generator().start(60, rate, seed=5).push(pcm, None)
    shut = track.channel("eyeBlinkLeft") > 0.5
    starts = np.flatnonzero(shut[1:] & ~shut[:-1])
    minutes = len(pcm) / rate / 60
    # People blink more while they talk: about 26 a minute in conversation, with a wide spread
    # (Bentivoglio et al. 1997). Piper's speech differs from run to run (its noise is random),
    # and this track measured 26 to 30.4 over five syntheses.
    assert 8 <= len(starts) / minutes <= 36
    lengths = np.diff(np.flatnonzero(np.diff(shut.astype(int)) != 0))[::2] / 60
    assert 0.07 <= np.median(lengths) <= 0.4


def test_audio_only_mouth_opens_in_speech_and_closes_in_silence(speech):
    chunk = speech[0]
    pcm = np.concatenate([np.zeros(11025, np.int16), chunk.pcm, np.zeros(11025, np.int16)])
    track = load_generator().start(60, chunk.sample_rate, seed=0).push(pcm, None)
    jaw = track.channel("jawOpen")
    assert jaw[:25].max() < 0.05 and jaw[-20:].max() < 0.05
    assert jaw[40:-40].max() > 0.3


def test_lip_closure_scores_count_hits_misses_and_spurious_closures():
    from avbridge.core.arkit import INDEX
    from avbridge.motion.metrics import lip_closure
    from avbridge.speech import Phoneme
    track = Track.neutral(60, 120)
    track.blendshapes[:, INDEX["jawOpen"]] = 0.4                      # open throughout...
    track.blendshapes[10:13, INDEX["jawOpen"]] = 0.02                 # ...shut inside the first "m"
    track.blendshapes[70:72, INDEX["jawOpen"]] = 0.02                 # ...and shut on a "t": spurious
    phonemes = [Phoneme("m", 10 / 60, 13 / 60), Phoneme("a", 13 / 60, 40 / 60), Phoneme("b", 40 / 60, 44 / 60),
                Phoneme("t", 68 / 60, 74 / 60), Phoneme("_", 74 / 60, 2.0)]
    score = lip_closure(track, phonemes)
    assert (score.closed_bilabials, score.bilabials) == (1, 2)       # "b" never closed
    assert (score.closures_on_bilabials, score.closures) == (1, 2)   # the "t" closure is spurious
    assert score.f1 == 0.5
