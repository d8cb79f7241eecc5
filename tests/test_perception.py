"""Perception and live motion on real recordings and a real portrait, through the same objects the
server uses: voice activity, voice-driven lips, face tracking, listening and turn-taking."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from avbridge.core.arkit import INDEX
from avbridge.core.audio import read_wav_mono
from avbridge.core.track import Track
from avbridge.live.turns import TurnTaking
from avbridge.motion.listening import BackchannelPolicy, ListeningLayer
from avbridge.motion.metrics import lip_closure
from avbridge.motion.visemes import LIPS_CLOSED_BELOW, lip_gap
from avbridge.motion.voice_lips import VoiceLips
from avbridge.perception.phones import force_align
from avbridge.perception.vad import VoiceActivity
from avbridge.speech import Phoneme

DATA = Path(__file__).parent / "data"


def turn_audio() -> np.ndarray:
    return read_wav_mono(DATA / "beat_scott_turn.wav")[0]


def feed(obj, pcm: np.ndarray, piece: int = 320) -> list:
    out = []
    for i in range(0, len(pcm), piece):
        r = obj.push(pcm[i:i + piece])
        out.append(r)
    return out


def test_voice_activity_finds_the_turn_and_its_pauses():
    vad = VoiceActivity()
    events = [e for batch in feed(vad, turn_audio()) for e in batch]
    kinds = [(e.kind, round(e.time, 1)) for e in events]
    assert kinds[0][0] == "start" and 1.5 <= events[0].time <= 1.8
    pauses = [e.time for e in events if e.kind == "pause"]
    # Whisper's segment boundaries in this recording lie at 7.2 to 7.5 s and 13.6 to 14.2 s.
    assert any(6.9 <= t <= 7.5 for t in pauses), kinds
    end = [e for e in events if e.kind == "end"]
    assert len(end) == 1 and 13.2 <= end[0].time <= 13.7
    assert all(e.detected - e.time <= 0.7 for e in events)


def test_voice_activity_ignores_silence_and_noise():
    vad = VoiceActivity()
    rng = np.random.default_rng(0)
    noise = (rng.normal(0, 60, 16000 * 3)).astype(np.int16)      # -55 dBFS hiss
    assert [e for batch in feed(vad, noise) for e in batch] == []
    assert not vad.speaking


def _lips_track(pcm: np.ndarray, delay_s: float = 0.08) -> Track:
    lips = VoiceLips(60, delay_s)
    mouth = np.concatenate([m for _, m in feed(lips, pcm)])
    n = len(mouth)
    return Track(60, mouth, np.tile(np.float32([0, 0, 0, 1, 0, 0, 0]), (n, 1)), np.zeros((n, 4), np.float32))


def test_voice_lips_open_in_speech_close_in_silence_and_shut_on_bilabials():
    pcm = turn_audio()
    track = _lips_track(np.concatenate([pcm, np.zeros(16000, np.int16)]))
    t = np.arange(len(track)) / 60
    gap = lip_gap(track.blendshapes)
    speech = (t > 2.0) & (t < 13.0)
    silence = (t < 1.4) | (t > 14.8)
    assert np.median(gap[speech]) > 0.15, "the mouth moves while the person speaks"
    assert (gap[silence] < LIPS_CLOSED_BELOW).all(), "and rests shut in silence"
    assert np.corrcoef(track.blendshapes[speech, INDEX["jawOpen"]], _envelope(pcm, t[speech]))[0, 1] > 0.5
    # p, b and m from a forced alignment of the transcript
    text = (DATA / "beat_scott_turn.txt").read_text()
    start, end = int(1.2 * 16000), int(13.7 * 16000)
    reference = [Phoneme(p.symbol, p.start + 1.2, p.end + 1.2) for p in force_align(pcm[start:end], text)]
    score = lip_closure(track, reference)
    assert score.bilabials == 5
    assert score.recall >= 0.6, score


def _envelope(pcm: np.ndarray, t: np.ndarray) -> np.ndarray:
    centres = np.round(t * 16000).astype(int)
    x = pcm.astype(np.float64)
    return np.array([np.sqrt(np.mean(x[max(c - 266, 0):c + 267] ** 2)) for c in centres])


def test_voice_lips_hardly_depend_on_how_the_audio_is_cut():
    pcm = turn_audio()[16000 * 2:16000 * 5]
    a = np.concatenate([m for _, m in feed(VoiceLips(60), pcm, 480)])
    b = np.concatenate([m for _, m in feed(VoiceLips(60), pcm, 160)])
    n = min(len(a), len(b))
    assert n > 150
    # Smoothing spans what has arrived, so cuts change poses a little, never the lip contact.
    closed_a, closed_b = lip_gap(a[:n]) < LIPS_CLOSED_BELOW, lip_gap(b[:n]) < LIPS_CLOSED_BELOW
    assert (closed_a == closed_b).mean() > 0.95
    assert np.abs(a[:n] - b[:n]).max() < 0.3


def test_backchannel_policy_nods_only_at_pauses_after_enough_speech():
    policy = BackchannelPolicy()
    assert policy.on_pause(0.5, np.zeros(5), 0) is None          # nobody has spoken
    policy.on_speech_start(1.0)
    assert policy.on_pause(1.5, np.zeros(5), 0) is None          # half a second is too little
    kind, _ = policy.on_pause(3.0, np.array([120.0, 110, 100, 90, 85]), 120.0)
    assert kind == "double_nod"                                   # a pitch fall: a firmer nod
    policy.on_speech_start(3.2)
    assert policy.on_pause(4.3, np.zeros(5), 0) is None          # within the minimum gap


def test_listening_layer_nods_smiles_back_later_and_frowns_with_concern():
    layer = ListeningLayer(target_attending=1.0)
    idle = Track.neutral(60, 240)
    layer.nod(1.0, "nod", 1.0)
    layer.user_smile(0.5, 0.8)
    out = layer.apply(idle, np.arange(240) / 60)
    pitch = out.head_euler()[:, 1]
    t = np.arange(240) / 60
    assert pitch[(t > 1.2) & (t < 1.4)].max() > pitch[t < 0.9].max() + np.radians(2)
    smile = out.blendshapes[:, INDEX["mouthSmileLeft"]]
    assert smile[t < 1.0].max() < 0.1 and smile[t > 2.5].min() > 0.3      # returned after a moment
    worried = ListeningLayer(target_attending=1.0, concern=1.0).apply(Track.neutral(60, 240), t)
    assert worried.blendshapes[-1, INDEX["browInnerUp"]] > 0.2
    still = ListeningLayer(target_attending=1.0, expressiveness=0.0)
    still.nod(1.0, "nod", 1.0)
    calm = still.apply(Track.neutral(60, 240), t)
    assert np.ptp(calm.head_euler()[:, 1]) < np.radians(0.5)             # reduced motion: no nod


@pytest.mark.parametrize("policy,after_ms,cut_at", [("always", 0, 10.0), ("after", 300, 10.3), ("never", 0, None)])
def test_barge_in_policies(policy, after_ms, cut_at):
    turns = TurnTaking(policy=policy, after_ms=after_ms)
    assert turns.avatar_start() == [("state", {"text": "speaking"})]
    events = turns.user_start(10.0)
    cut = 10.0 if any(n == "barge_in" for n, _ in events) else None
    for t in np.arange(10.02, 11.0, 0.02):
        if cut is None and any(n == "barge_in" for n, _ in turns.tick(float(t))):
            cut = float(t)
    if cut_at is None:
        assert cut is None and turns.state == "speaking"
    else:
        assert cut is not None and cut_at - 0.001 <= cut <= cut_at + 0.03
        assert turns.state == "listening"


def test_turn_states_follow_the_conversation():
    turns = TurnTaking()
    seen = []
    for step in (turns.user_start(0), turns.user_end(2), turns.thinking(True), turns.avatar_start(), turns.avatar_end()):
        seen += [f["text"] for n, f in step if n == "state"]
    assert seen == ["listening", "thinking", "speaking", "idle"]
    with pytest.raises(ValueError, match="barge-in policy 'sometimes'"):
        TurnTaking(policy="sometimes")
