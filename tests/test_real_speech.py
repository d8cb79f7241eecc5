"""Phones heard in real human speech, and the face they make: on recordings of real people
(tests/data/README.md), scored against PocketSphinx's forced alignment of their transcripts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from avbridge.core.audio import read_wav, read_wav_mono, write_wav
from avbridge.core.rotation import quaternion_to_yaw_pitch_roll
from avbridge.core.track import Track
from avbridge.motion import MotionParams
from avbridge.motion.metrics import head_stats, lip_closure
from avbridge.motion.procedural import ProceduralGenerator
from avbridge.motion.visemes import is_bilabial
from avbridge.perception.phone_recogniser import PhoneRecogniser, ctc_align

DATA = Path(__file__).parent / "data"


def _bilabial_onsets(phonemes):
    return np.array([p.start for p in phonemes if is_bilabial(p.symbol)])


def test_ctc_alignment_follows_the_peaks_and_needs_a_blank_between_repeats():
    # 10 frames over tokens {blank 0, a 1, b 2}: a peaks at 2, b at 5, a again at 8.
    log_probs = np.log(np.full((10, 3), 0.05))
    log_probs[:, 0] = np.log(0.9)
    for frame, token in ((2, 1), (5, 2), (8, 1)):
        log_probs[frame] = np.log([0.05, 0.05, 0.05])
        log_probs[frame, token] = np.log(0.9)
    assert ctc_align(log_probs, [1, 2, 1], blank=0) == [2, 5, 8]
    # "a a" needs a blank between the two: the path exists only if there are frames for it.
    assert ctc_align(log_probs[:2], [1, 1], blank=0) is None
    assert ctc_align(log_probs[:3], [1, 1], blank=0) == [0, 2]


def test_the_recogniser_hears_every_bilabial_of_real_speech_near_its_aligned_time(beat_turn, beat_turn_phones):
    pcm, _ = beat_turn
    recogniser = PhoneRecogniser()
    heard = recogniser.phonemes(recogniser.log_probs(pcm))
    want, got = _bilabial_onsets(beat_turn_phones), _bilabial_onsets(heard)
    assert len(want) == 5
    errors = np.array([np.min(np.abs(got - w)) for w in want])
    assert (errors <= 0.08).all(), errors            # measured: 0 to 50 ms after the shift
    assert len(got) <= len(want) + 2                 # and few that are not there


def test_a_known_text_is_aligned_to_real_speech_as_closely_as_forced_alignment(beat_turn, beat_turn_phones):
    pcm, text = beat_turn
    recogniser = PhoneRecogniser()
    aligned = recogniser.align(recogniser.log_probs(pcm), recogniser.text_tokens(text))
    assert aligned is not None
    want, got = _bilabial_onsets(beat_turn_phones), _bilabial_onsets(aligned)
    assert len(got) == len(want)                     # the same words: the same p, b and m
    assert np.abs(got - want).max() <= 0.07, got - want
    # Words that do not fit the audio are not forced onto it.
    assert recogniser.align(recogniser.log_probs(pcm[:8000]), recogniser.text_tokens(text)) is None


def _heard_track(pcm, text=None, piece=1600, fps=30.0, seed=3) -> Track:
    stream = ProceduralGenerator().start_heard(fps, 16000, MotionParams(), seed, text=text)
    tracks = [stream.push(pcm[i:i + piece]) for i in range(0, len(pcm), piece)] + [stream.finish()]
    return Track.concatenate([t for t in tracks if len(t)], fps)


def test_engine_audio_shuts_the_lips_on_the_bilabials_it_hears(beat_turn, beat_turn_phones):
    pcm, text = beat_turn
    without = lip_closure(_heard_track(pcm), beat_turn_phones)
    with_text = lip_closure(_heard_track(pcm, text), beat_turn_phones)
    assert without.recall >= 0.8 and with_text.recall == 1.0, (without, with_text)


def test_heard_streams_keep_the_frame_contract_however_the_audio_is_cut(beat_turn):
    pcm, _ = beat_turn
    pcm = pcm[:5 * 16000 + 123]
    frames = int(np.ceil(len(pcm) / 16000 * 30 - 1e-9))
    for piece in (320, 4000, len(pcm)):
        track = _heard_track(pcm, piece=piece)
        assert len(track) == frames and track.start_frame == 0
    # Same seed, same audio: the same motion.
    a, b = _heard_track(pcm, piece=1600), _heard_track(pcm, piece=1600)
    assert np.array_equal(a.blendshapes, b.blendshapes) and np.array_equal(a.head, b.head)


def test_a_speaking_head_moves_like_a_real_speaker_and_faster_on_the_beats(beat_turn):
    pcm, _ = beat_turn
    track = _heard_track(pcm, fps=60.0)
    stats = head_stats(np.degrees(quaternion_to_yaw_pitch_roll(track.head[:, :4])), 60.0)
    # Real speakers measured (docs/quality.md "Real speech"): std 1.4 to 7.1 deg an axis, speed
    # p50 7 to 21 deg/s, varying with the speech.
    assert all(1.2 <= s <= 7.5 for s in stats.std_deg), stats
    assert 6.0 <= stats.speed_p50 <= 22.0 and stats.speed_variation > 0.2, stats


def test_the_voice_moves_a_telepresence_head_where_no_camera_sees_the_face(beat_turn):
    from avbridge.live.input import LiveInput
    from avbridge.live.turns import TurnTaking
    from avbridge.motion.listening import ListeningLayer
    pcm, _ = beat_turn
    live = LiveInput("telepresence", 30.0, TurnTaking(), ListeningLayer(), transcripts=False, seed=2)
    heads = [u.head for u in (live.push_audio(pcm[i:i + 320]) for i in range(0, len(pcm), 320)) if len(u.mouth)]
    angles = np.degrees(quaternion_to_yaw_pitch_roll(np.concatenate(heads)[:, :4]))
    stats = head_stats(angles, 30.0)
    assert min(stats.std_deg) > 1.0 and stats.speed_p50 > 5.0, stats


def test_mandarin_speech_is_heard_too():
    """FACEGOOD's Mandarin take (tests/data): the recogniser's inventory is not English only, so
    the mouth opens on the syllables it hears and rests in the pauses. (How closely it follows
    the take's own animation is measured in docs/quality.md: less closely than on English.)"""
    from avbridge.datasets.facegood import column_offset, to_arkit
    from avbridge.motion.metrics import correlation, mouth_openness, speech_frames
    values = np.load(DATA / "facegood_1114_3_15_excerpt.npy", allow_pickle=True).astype(np.float64)
    names = [str(n) for n in np.load(DATA / "facegood_bs_names.npy", allow_pickle=True)]
    reference = mouth_openness(to_arkit(values, names, column_offset(values, names)))
    pcm, _ = read_wav_mono(DATA / "facegood_1114_3_15_excerpt.wav")
    recogniser = PhoneRecogniser()
    heard = recogniser.phonemes(recogniser.log_probs(pcm))
    assert sum(p.symbol != "_" for p in heard) >= 40      # 10 s of speech: many phones
    track = _heard_track(pcm)
    assert len(track) == len(reference)
    ours = mouth_openness(track.blendshapes)
    speech = speech_frames(pcm, len(reference), 30.0)
    assert correlation(ours, reference) > 0.3             # open with the syllables, shut between phrases
    assert ours[~speech].mean() < 0.5 * ours[speech].mean()


def test_wavs_of_other_sample_formats_are_read(tmp_path):
    import scipy.io.wavfile
    tone = np.sin(np.arange(1600) / 16000 * 2 * np.pi * 220)
    scipy.io.wavfile.write(tmp_path / "float.wav", 16000, (0.5 * tone).astype(np.float32))
    scipy.io.wavfile.write(tmp_path / "int32.wav", 16000, (0.5 * tone * 2**31).astype(np.int32))
    write_wav(tmp_path / "int16.wav", (0.5 * tone * 32767).astype(np.int16), 16000)
    ref, _ = read_wav(tmp_path / "int16.wav")
    for name in ("float.wav", "int32.wav"):
        pcm, rate = read_wav(tmp_path / name)
        assert rate == 16000 and pcm.dtype == np.int16 and np.abs(pcm.astype(int) - ref).max() <= 3


def test_speak_audio_with_its_subtitle_closes_the_lips_on_every_bilabial(espeak_server, beat_turn, beat_turn_phones):
    """The whole path: a recorded line and its text over the socket, in 50 ms pieces."""
    from avbridge.client import Client
    pcm, text = beat_turn
    with Client(espeak_server.endpoint, timeout=30) as client:
        session = client.open(realtime=False, fps=30.0)
        with_text = session.speak_audio(pcm, 16000, chunk_s=0.05, text=text)
        without = session.speak_audio(pcm, 16000, chunk_s=0.05)
    frames = int(np.ceil(len(pcm) / 16000 * 30 - 1e-9))
    assert len(with_text.track) == len(without.track) == frames
    assert lip_closure(with_text.track, beat_turn_phones).recall == 1.0
    assert lip_closure(without.track, beat_turn_phones).recall >= 0.8
