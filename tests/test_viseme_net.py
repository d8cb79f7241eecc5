"""The streaming viseme recogniser (perception/viseme_net.py) on real human speech: the BEAT
speaker's turn (tests/data/README.md), scored against PocketSphinx's alignment of its transcript,
and the live lips it drives."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import BEAT_TURN_TEXT_SPAN_S
from avbridge.motion.visemes import VISEME_INDEX, lip_gap, viseme_of
from avbridge.motion.voice_lips import CLOSURE_POSTERIOR, VoiceLips
from avbridge.perception import viseme_net as vn



@pytest.fixture(scope="module")
def turn(beat_turn):
    return beat_turn[0]


@pytest.fixture(scope="module")
def reference(beat_turn_phones):
    return beat_turn_phones


@pytest.fixture(scope="module")
def heard(turn):
    return vn.posteriors(turn)


def _reference_visemes(reference, frames):
    labels = np.full(frames, VISEME_INDEX["sil"])
    for p in reference:
        labels[int(np.ceil(p.start / 0.01)):int(np.ceil(p.end / 0.01))] = VISEME_INDEX[viseme_of(p.symbol)]
    return labels[:frames]


def test_the_stream_gives_what_the_whole_recording_gives_in_any_pieces(turn):
    whole = vn.posteriors(turn)
    assert whole.shape == (len(vn.log_mel(turn)), 15)
    stream = vn.StreamingVisemes()
    rng = np.random.default_rng(3)
    pieces, at, expected_first = [], 0, 0
    while at < len(turn):
        size = int(rng.integers(1, 900))
        first, out = stream.push(turn[at:at + size])
        at += size
        assert first == expected_first
        expected_first += len(out)
        # Each frame comes out as soon as its look-ahead has been heard, not later.
        heard_frames = (min(at, len(turn)) + vn.WINDOW // 2 - vn.WINDOW) // vn.HOP + 1
        assert expected_first == max(0, heard_frames - vn.LOOKAHEAD)
        pieces.append(out)
    pieces.append(stream.finish()[1])
    assert np.allclose(np.concatenate(pieces), whole, atol=1e-5)


def test_its_latency_is_inside_the_live_lips_delay():
    assert vn.LATENCY_S <= 0.06
    from avbridge.motion.voice_lips import DEFAULT_DELAY_S
    assert vn.LATENCY_S < DEFAULT_DELAY_S


def test_it_names_the_viseme_of_most_frames_of_real_speech(heard, reference):
    labels = _reference_visemes(reference, len(heard))
    spoken = slice(*(int(s * 100) for s in BEAT_TURN_TEXT_SPAN_S))
    guesses = heard.argmax(axis=1)[spoken]
    accuracy = float((guesses == labels[spoken]).mean())
    # Chance (always the commonest class) is about 0.3; the recogniser is trained on other speakers.
    commonest = np.bincount(labels[spoken]).max() / len(labels[spoken])
    assert accuracy > commonest + 0.2, (accuracy, commonest)


def test_it_hears_most_bilabials_of_real_speech_at_their_time(heard, reference):
    pp = heard[:, VISEME_INDEX["PP"]]
    bilabials = [p for p in reference if viseme_of(p.symbol) == "PP"]
    assert len(bilabials) == 5
    found = [pp[max(0, int(p.start / 0.01) - 3):int(p.end / 0.01) + 3].max() > CLOSURE_POSTERIOR for p in bilabials]
    assert sum(found) >= 4, found
    # And not everywhere: outside bilabials (and 50 ms around them) it is rarely fairly sure of one.
    near = np.zeros(len(pp), bool)
    for p in bilabials:
        near[max(0, int(p.start / 0.01) - 5):int(p.end / 0.01) + 5] = True
    assert np.mean(pp[~near] > CLOSURE_POSTERIOR) < 0.1   # 6 % here: f, v and mumbled n


def test_the_live_lips_shut_on_the_bilabials_they_hear(turn, reference):
    lips = VoiceLips(30.0)
    mouths = [lips.push(turn[i:i + 320])[1] for i in range(0, len(turn), 320)]
    mouth = np.concatenate(mouths)
    gap = lip_gap(mouth)
    t = np.arange(len(mouth)) / 30.0
    bilabials = [p for p in reference if viseme_of(p.symbol) == "PP"]
    shut = [gap[(t >= p.start - 0.04) & (t <= p.end + 0.04)].min(initial=1.0) < 0.06 for p in bilabials]
    assert sum(shut) >= 4, shut
    # ... and open on the vowels between them.
    vowels = [p for p in reference if viseme_of(p.symbol) in ("aa", "E", "O") and p.end - p.start > 0.08]
    opened = [gap[(t >= p.start) & (t <= p.end)].max(initial=0.0) > 0.15 for p in vowels]
    assert np.mean(opened) >= 0.8


def test_a_missing_or_mismatched_checkpoint_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="no viseme recogniser checkpoint"):
        vn.VisemeNet(tmp_path / "none.npz")
    good = np.load(vn.CHECKPOINT)
    arrays = {k: good[k] for k in good.files}
    arrays["w0"] = arrays["w0"][:40]
    np.savez(tmp_path / "short.npz", **arrays)
    with pytest.raises(ValueError, match="context does not match"):
        vn.VisemeNet(tmp_path / "short.npz")


def test_a_checkpoint_with_its_classes_in_another_order_is_refused():
    from avbridge.motion.visemes import in_viseme_order
    net = vn.VisemeNet()
    assert in_viseme_order(net) is net
    net.classes = tuple(reversed(net.classes))
    with pytest.raises(ValueError, match="are not"):
        in_viseme_order(net)
