"""Live sessions over real sockets: the user's recorded voice and a moving portrait go in through
user_audio and user_face (the path an engine's microphone and face tracking take), and what comes
out is checked: turn events, backchannels in pauses, barge-in in time, puppet frames, bad input."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from avbridge.client import Client, ServerError
from avbridge.core.arkit import INDEX
from avbridge.core.audio import read_wav_mono
from avbridge.motion.visemes import LIPS_CLOSED_BELOW, lip_gap
from avbridge.protocol import Message
from conftest import make_server

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def live_server():
    server = make_server(voice="espeak")
    yield server
    server.stop()


def turn_audio() -> np.ndarray:
    return read_wav_mono(DATA / "beat_scott_turn.wav")[0]


def send_paced(session, pcm: np.ndarray, piece: int = 320) -> None:
    """Like a microphone: one 20 ms piece every 20 ms."""
    t0 = time.monotonic()
    for i in range(0, len(pcm), piece):
        session.user_audio(pcm[i:i + piece], 16000)
        time.sleep(max(0.0, t0 + (i + piece) / 16000 - time.monotonic()))


def events(messages) -> list[Message]:
    return [m for m, _ in messages if m.type == "event"]


def test_listening_session_reports_the_turn_and_nods_only_in_pauses(live_server):
    with Client(live_server.endpoint, timeout=20) as client:
        session = client.open(live="listen", transcripts=False)
        pcm = np.concatenate([turn_audio(), np.zeros(16000, np.int16)])
        send_paced(session, pcm)
        got = events(session.received(1.0))
        names = [m["name"] for m in got]
        assert names[:2] == ["user_speech_start", "state"] and got[1]["text"] == "listening"
        assert "user_speech_end" in names
        states = [m["text"] for m in got if m["name"] == "state"]
        assert states[:2] == ["listening", "thinking"]
        live = live_server.service.sessions[session.id].live
        start = next(m["time"] for m in got if m["name"] == "user_speech_start")
        nods = [m["time"] - start + 1.6 for m in got if m["name"] == "backchannel"]   # user time, roughly
        assert nods, names
        # Every nod starts while the voice is quiet: in the recording's pauses (at 3.1, 7.1 and
        # 13.4 s, each 0.3 s or longer), never over words.
        windows = live.input.vad.windows
        assert windows
        vad = live.input.vad
        for m in got:
            if m["name"] == "backchannel":
                user_time = m["time"] - live.anchor
                near = [w for w in vad.recent(60) if abs(w.time - user_time) < 0.05]
                assert all(w.level_db < -35 for w in near), (user_time, [(round(w.time, 2), round(w.level_db)) for w in near])
        session.close()


def test_barge_in_stops_the_avatar_within_150_ms(live_server):
    with Client(live_server.endpoint, timeout=20) as client:
        session = client.open(live="listen", barge_in="always", transcripts=False)
        send_paced(session, np.zeros(3200, np.int16))
        uid = session.say_async("I will keep talking for quite a while about the weather and the sea.")
        time.sleep(0.8)
        send_paced(session, turn_audio()[int(1.5 * 16000):int(2.5 * 16000)])
        got = session.received(0.5)
        ends = [m for m, _ in got if m.type == "end" and m["utterance"] == uid]
        assert ends and ends[0]["status"] == "interrupted" and "barge-in" in ends[0]["reason"]
        assert any(m["name"] == "barge_in" for m in events(got))
        live = live_server.service.sessions[session.id].live
        assert len(live.barge_ins) == 1 and 0.0 < live.barge_ins[0] <= 0.15, live.barge_ins


def test_never_policy_lets_the_avatar_finish(live_server):
    with Client(live_server.endpoint, timeout=20) as client:
        session = client.open(live="listen", barge_in="never", transcripts=False)
        uid = session.say_async("Short line.")
        time.sleep(0.2)
        send_paced(session, turn_audio()[int(1.5 * 16000):int(2.5 * 16000)])
        got = session.received(1.0)
        ends = [m for m, _ in got if m.type == "end" and m["utterance"] == uid]
        assert ends and ends[0]["status"] == "done"
        assert "user_speech_start" in [m["name"] for m in events(got)]


def puppet_frames(messages) -> np.ndarray:
    blocks = [np.frombuffer(m.bulk[0], "<f4").reshape(m["count"], 63) for m, _ in messages if m.type == "frames"]
    return np.concatenate(blocks) if blocks else np.zeros((0, 63), np.float32)


def test_telepresence_mouth_follows_the_voice(live_server):
    with Client(live_server.endpoint, timeout=20) as client:
        session = client.open(live="telepresence")
        pcm = turn_audio()[:16000 * 5]                 # 1.6 s of silence, then speech
        send_paced(session, pcm)
        frames = puppet_frames(session.received(0.5))
        assert len(frames) >= 60 * 4.8
        gap = lip_gap(frames[:, :52])
        t = np.arange(len(frames)) / 60
        assert (gap[t < 1.4] < LIPS_CLOSED_BELOW).all()
        assert np.median(gap[(t > 2.0) & (t < 4.5)]) > 0.15


def test_telepresence_face_from_engine_tracking_overrides_the_voice(live_server):
    with Client(live_server.endpoint, timeout=20) as client:
        session = client.open(live="telepresence")
        weights = np.zeros(52, np.float32)
        weights[INDEX["jawOpen"]] = 0.8
        weights[INDEX["browInnerUp"]] = 0.6
        head = np.array([0, np.sin(0.15), 0, np.cos(0.15), 0, 0, 0], np.float32)   # turned 17 degrees
        silence = np.zeros(320, np.int16)
        t0 = time.monotonic()
        for k in range(100):
            session.user_face(k * 0.02, weights, head)
            session.user_audio(silence, 16000)
            time.sleep(max(0.0, t0 + (k + 1) * 0.02 - time.monotonic()))
        frames = puppet_frames(session.received(1.5))
        late = frames[len(frames) // 2:]
        assert late[:, INDEX["jawOpen"]].min() > 0.6 and late[:, INDEX["browInnerUp"]].min() > 0.45
        assert abs(late[-1, 53] - np.sin(0.15)) < 0.02
        for k in range(100, 160):                      # the face is lost: back to the voice (silent)
            session.user_face(k * 0.02, None)
            session.user_audio(silence, 16000)
            time.sleep(max(0.0, t0 + (k + 1) * 0.02 - time.monotonic()))
        frames = puppet_frames(session.received(1.0))
        assert frames[-1, INDEX["jawOpen"]] < 0.1


def test_telepresence_from_the_camera_alone(live_server):
    with Client(live_server.endpoint, timeout=20) as client:
        session = client.open(live="telepresence")
        weights = np.zeros(52, np.float32)
        weights[INDEX["mouthSmileLeft"]] = 0.7
        t0 = time.monotonic()
        for k in range(60):                            # no voice at all: a muted microphone
            session.user_face(k / 30, weights)
            time.sleep(max(0.0, t0 + (k + 1) / 30 - time.monotonic()))
        frames = puppet_frames(session.received(0.5))
        assert len(frames) >= 60 * 1.5
        assert frames[-1, INDEX["mouthSmileLeft"]] > 0.5


def test_bad_live_input_gets_clear_errors_and_the_server_goes_on(live_server):
    with Client(live_server.endpoint, timeout=20) as client:
        plain = client.open()
        with pytest.raises(ServerError, match="is not live; open it with live"):
            plain.user_audio(np.zeros(320, np.int16), 16000)
            plain.received(0.5)
        with pytest.raises(ServerError, match="unknown live mode 'karaoke'"):
            client.open(live="karaoke")
        with pytest.raises(ServerError, match="unknown barge_in policy 'maybe'"):
            client.open(live="listen", barge_in="maybe")
        session = client.open(live="listen", transcripts=False)
        session.user_audio(np.zeros(320, np.int16), 16000)
        session._user_samples = 160                                      # samples sent again
        with pytest.raises(ServerError, match="offset 160 does not continue the user stream at sample 320"):
            session.user_audio(np.zeros(320, np.int16), 16000)
            session.received(0.5)
        session._user_samples = 320 + 1600                               # 0.1 s lost on the way: silence
        session.user_audio(np.zeros(320, np.int16), 16000)
        session._user_samples = 320 + 1600 + 320 + 16000 * 6             # 6 s lost: too much
        with pytest.raises(ServerError, match="is 6.0 s past the user stream at sample 2240; at most 5 s may be missing"):
            session.user_audio(np.zeros(320, np.int16), 16000)
            session.received(0.5)
        with pytest.raises(ServerError, match="59 float32"):
            seq = client.send(Message("user_face", {"session": session.id, "time": 0.0}, [np.zeros(10, "<f4").tobytes()]))
            client._unanswered.append(seq)
            session.received(0.5)
        nan = np.zeros(59, np.float32)
        nan[0] = np.nan
        with pytest.raises(ServerError, match="NaN"):
            seq = client.send(Message("user_face", {"session": session.id, "time": 0.0}, [nan.tobytes()]))
            client._unanswered.append(seq)
            session.received(0.5)
        with pytest.raises(ServerError, match="calibrate needs a live session"):
            plain.set(calibrate=1.0)
        # still serving, this client and others
        assert plain.say("Still here.").track.blendshapes.shape[0] > 0
        with Client(live_server.endpoint, timeout=20) as other:
            assert other.open(live="listen").id


def test_a_live_client_that_vanishes_mid_stream_loses_only_its_session(live_server):
    with Client(live_server.endpoint, timeout=20) as client:
        session = client.open(live="telepresence")
        for i in range(20):
            session.user_audio(turn_audio()[i * 320:(i + 1) * 320], 16000)
    # The client's socket is closed: the server hears of it at once and closes its sessions once
    # the grace period for a reconnect (the heartbeat timeout) has passed.
    deadline = time.monotonic() + live_server.config.heartbeat_timeout_ms / 1000 + 3
    while session.id in live_server.service.sessions and time.monotonic() < deadline:
        time.sleep(0.05)
    assert session.id not in live_server.service.sessions
    with Client(live_server.endpoint, timeout=20) as other:
        assert other.open().say("Fine.").track.blendshapes.shape[0] > 0
