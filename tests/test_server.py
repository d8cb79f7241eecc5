"""The server over real ZeroMQ sockets on random loopback ports."""

from __future__ import annotations

import threading
import time

import msgpack
import numpy as np
import pytest
import zmq
from avbridge.client import Client, ServerError
from avbridge.protocol import Message, decode, encode
from conftest import make_server


class RawPeer:
    """A bare DEALER for sending bytes the Python client would never produce."""

    def __init__(self, endpoint: str, context: zmq.Context | None = None) -> None:
        self.socket = (context or zmq.Context.instance()).socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(endpoint)

    def send(self, *frames: bytes) -> None:
        self.socket.send_multipart(list(frames))

    def receive(self, timeout: float = 5.0) -> Message:
        assert self.socket.poll(int(timeout * 1000)), "no reply in time"
        return decode(self.socket.recv_multipart(), max_bulk_bytes=1 << 30)

    def hello(self) -> Message:
        self.send(*encode(Message("hello", {"versions": [1], "client": "raw"}, seq=1)))
        return self.receive()

    def close(self) -> None:
        self.socket.close(0)


def pack(**header) -> bytes:
    return msgpack.packb(header, use_bin_type=True)


# -- the main path -------------------------------------------------------------------------------

def test_say_streams_audio_and_frames_on_one_timeline(piper_server):
    with Client(piper_server.endpoint, timeout=30) as client:
        assert client.welcome["blendshapes"][17] == "jawOpen"
        session = client.open(realtime=False)
        result = session.say("Bob paid for my map. Then the woman waved, and we all went home.")
        assert result.end["status"] == "done"
        # Audio: consecutive chunks, their durations adding up to the utterance.
        offsets = [o for _, o, _ in result.audio_times]
        sizes = [n for _, _, n in result.audio_times]
        assert offsets == list(np.cumsum([0] + sizes[:-1]))
        assert sum(sizes) == len(result.pcm) == result.end["samples"]
        for at, offset, _ in result.audio_times:
            assert at == pytest.approx(result.start + offset / result.sample_rate, abs=1e-9)
        duration = result.duration
        assert result.end["time"] == pytest.approx(result.start + duration, abs=1e-6)
        # Frames: n at start + n / fps, covering the whole utterance.
        fps = result.header["fps"]
        assert len(result.track) == result.end["frames"] == int(np.ceil(duration * fps - 1e-9))
        assert result.frame_times == pytest.approx([result.start + n / fps for n in range(len(result.track))])
        assert result.frame_times[-1] >= result.start + duration - 1 / fps
        assert np.sqrt(np.mean(result.pcm.astype(float) ** 2)) > 500
        names = [e["name"] for e in result.events]
        assert names[0] == "utterance_start" and names[-1] == "utterance_end"
        words = [e["text"] for e in result.events if e["name"] == "word"]
        assert words[:5] == ["Bob", "paid", "for", "my", "map"]


def test_realtime_pacing_runs_ahead_by_the_lead_only(espeak_server):
    with Client(espeak_server.endpoint, timeout=20) as client:
        session = client.open()
        t0 = time.monotonic()
        result = session.say("One two three four five six seven eight nine ten eleven twelve.")
        elapsed = time.monotonic() - t0
        lead = espeak_server.config.lead_s
        assert result.duration > 2 * lead
        assert elapsed >= result.duration - lead - 0.3    # paced, not dumped at once
        assert result.first_audio_at - t0 < 1.0


def test_interrupt_stops_within_one_frame_and_says_so(espeak_server):
    with Client(espeak_server.endpoint, timeout=20) as client:
        session = client.open()
        utterance = session.say_async("This is a long line that will be cut off well before it is done, "
                                      "because the player has walked away from the counter.")
        time.sleep(0.8)
        asked = time.monotonic()
        session.interrupt()
        result = session.collect(utterance)
        end = result.end
        assert end["status"] == "interrupted"
        # The cut lies on the first frame boundary after the interrupt reached the server.
        session_time_when_asked = client.ping(session.id)[1]["session_time"] - (time.monotonic() - asked)
        fps = result.header["fps"]
        assert end["time"] == pytest.approx(result.start + end["frames"] / fps, abs=1e-9)
        assert -0.005 <= end["time"] - session_time_when_asked < 1 / fps + 0.5
        assert len(result.track) == end["frames"]
        assert len(result.pcm) == end["samples"]
        # The session still works after an interrupt.
        assert session.say("Okay.").end["status"] == "done"


def test_lines_said_back_to_back_queue_on_the_timeline(espeak_server):
    with Client(espeak_server.endpoint, timeout=20) as client:
        session = client.open(realtime=False)
        first = session.say_async("First line.")
        second = session.say_async("Second line.")
        a, b = session.collect(first), session.collect(second)
        assert b.start == pytest.approx(a.end["time"], abs=1e-6)


def test_two_clients_at_once(espeak_server):
    results = {}

    def speak(name: str, text: str) -> None:
        with Client(espeak_server.endpoint, timeout=20, name=name) as client:
            results[name] = client.open(realtime=False).say(text)

    threads = [threading.Thread(target=speak, args=(f"c{i}", f"Client number {i} says hello.")) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert set(results) == {"c0", "c1"}
    for r in results.values():
        assert r.end["status"] == "done" and len(r.track) == r.end["frames"] > 0


def test_speak_audio_animates_engine_speech(espeak_server):
    with Client(espeak_server.endpoint, timeout=20) as client:
        session = client.open(realtime=False)
        speech = session.say("Hello from the engine.")
        silence = np.zeros(8000, np.int16)
        pcm = np.concatenate([silence, speech.pcm, silence])
        result = session.speak_audio(pcm, speech.sample_rate, chunk_s=0.05)
        assert result.header["audio"] is False and len(result.pcm) == 0
        # Each piece the engine sends is animated and sent at once, as one batch (not one message a frame).
        pieces = int(np.ceil(len(pcm) / int(0.05 * speech.sample_rate)))
        assert len(result.frame_arrivals) <= pieces + 1
        assert result.end["samples"] == len(pcm)
        assert len(result.track) == int(np.ceil(len(pcm) / speech.sample_rate * 60 - 1e-9))
        jaw = result.track.channel("jawOpen")
        assert jaw[:15].max() < 0.05 and jaw[30:-30].max() > 0.2


def test_speak_audio_on_real_human_speech(espeak_server):
    from pathlib import Path

    from avbridge.core.audio import read_wav_mono
    pcm, rate = read_wav_mono(Path(__file__).parent / "data" / "beat_scott_excerpt.wav")
    with Client(espeak_server.endpoint, timeout=20) as client:
        result = client.open(realtime=False, fps=30.0).speak_audio(pcm, rate, chunk_s=0.02)
    jaw = result.track.channel("jawOpen")
    assert len(jaw) == int(np.ceil(len(pcm) / rate * 30 - 1e-9))
    assert jaw[:12].max() < 0.05                      # the first 0.4 s are silence
    assert np.percentile(jaw[20:], 90) > 0.25         # speech opens the mouth
    envelope = np.array([np.sqrt(np.mean(pcm[int(i * rate / 30):int((i + 1) * rate / 30)].astype(float) ** 2))
                         for i in range(len(jaw))])
    assert np.corrcoef(jaw, envelope)[0, 1] > 0.6


def test_mirror_sees_the_streams(espeak_server):
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.connect(espeak_server.mirror_endpoint)
    sub.setsockopt(zmq.SUBSCRIBE, b"s/")
    time.sleep(0.3)    # let the subscription reach the XPUB
    with Client(espeak_server.endpoint, timeout=20) as client:
        session = client.open(realtime=False)
        result = session.say("Mirror this.")
    seen = []
    while sub.poll(1000):
        topic, *frames = sub.recv_multipart()
        message = decode(frames)
        if message.session == session.id:
            seen.append(message.type)
            if message.type == "end":
                break
    sub.close(0)
    assert seen[0] == "stream" and seen[-1] == "end" and "frames" in seen and "audio" in seen
    assert seen.count("frames") == sum(1 for _ in range(0, len(result.track), 6))


def test_ping_maps_clocks(client):
    session = client.open()
    rtt, pong = client.ping(session.id)
    assert rtt < 1.0 and pong["session_time"] >= 0 and pong["re"] > 0


def test_set_moves_the_gaze_target(client):
    # Same seed, same (deterministic) espeak line: the only difference is where eye contact is.
    plain = client.open(realtime=False, seed=5).say("Over here, traveller.").track.gaze
    session = client.open(realtime=False, seed=5)
    session.set(gaze_yaw=0.3, gaze_pitch=-0.1)
    moved = session.say("Over here, traveller.").track.gaze
    assert np.allclose(moved - plain, [0.3, -0.1, 0.3, -0.1], atol=1e-5)
    with pytest.raises(ServerError) as caught:
        session.set(gaze_yaw=2.0)
    assert caught.value.message == "set: gaze_yaw 2 is outside -0.6..0.6"


def test_set_changes_the_face(client):
    session = client.open(realtime=False)
    neutral = session.say("I see.").track
    session.set(emotion="happy", intensity=1.0)
    happy = session.say("I see.").track
    assert happy.channel("mouthSmileLeft").mean() > neutral.channel("mouthSmileLeft").mean() + 0.2


# -- bad input -----------------------------------------------------------------------------------

BAD = [
    ("malformed", [b"\xc1\xc1"], "malformed", "header frame is not valid msgpack"),
    ("not a map", [msgpack.packb([1, 2])], "malformed", "header is an array, not a map"),
    ("missing field", [pack(v=1, type="say", seq=2, session="x")], "missing_field", "say: missing field 'text'"),
    ("wrong field type", [pack(v=1, type="say", seq=2, session="x", text=3)], "bad_field", "say: field 'text' must be a string"),
    ("unknown type", [pack(v=1, type="dance", seq=2)], "unknown_type", "unknown message type 'dance'"),
    ("wrong version", [pack(v=9, type="say", seq=2)], "bad_version", "protocol version 9 is not supported; this peer speaks 1"),
    ("invalid utf-8", [b"\x85\xa1v\x01\xa4type\xa3say\xa3seq\x02\xa7session\xa1x\xa4text\xa2\xff\xfe"],
     "bad_utf8", "header contains a string that is not valid UTF-8"),
    ("server type from client", [pack(v=1, type="welcome", seq=2)], "unexpected_type",
     "'welcome' is sent by servers, not clients"),
]


@pytest.mark.parametrize("name,frames,code,message", BAD, ids=[b[0] for b in BAD])
def test_bad_messages_get_errors_and_the_server_keeps_serving(espeak_server, name, frames, code, message):
    peer = RawPeer(espeak_server.endpoint)
    peer.hello()
    peer.send(*frames)
    reply = peer.receive()
    assert reply.type == "error" and reply["code"] == code
    if message:
        assert reply["message"] == message
    peer.send(*encode(Message("ping", {"client_time": 1.0}, seq=3)))
    assert peer.receive().type == "pong"
    peer.close()


def test_requests_before_hello_are_refused(espeak_server):
    peer = RawPeer(espeak_server.endpoint)
    peer.send(*encode(Message("open", {}, seq=1)))
    reply = peer.receive()
    assert (reply["code"], reply["message"]) == ("hello_required", "send hello before 'open'")
    peer.close()


@pytest.mark.parametrize("text,code,message", [
    ("", "empty_text", "say: text is empty"),
    ("   \n\t", "empty_text", "say: text is empty"),
    ("?!... ---", "empty_text", "say: text has nothing to speak (no letters or digits)"),
    ("a" * 100_000, "text_too_long", "say: text has 100000 characters; the limit is 10000"),
])
def test_empty_and_huge_text(client, text, code, message):
    session = client.open()
    with pytest.raises(ServerError) as caught:
        session.say_async(text)
    assert (caught.value.code, caught.value.message) == (code, message)
    assert session.say("Still here.", timeout=20).end["status"] == "done"


def test_unknown_session_and_request_after_close(client):
    with pytest.raises(ServerError) as caught:
        client.request(Message("say", {"session": "nope", "text": "hi"}))
    assert (caught.value.code, caught.value.message) == ("unknown_session", "no session nope")
    session = client.open()
    session.close()
    with pytest.raises(ServerError) as caught:
        session.say_async("hello")
    assert (caught.value.code, caught.value.message) == ("session_closed", f"session {session.id} is closed")


def test_bad_parameters(client):
    with pytest.raises(ServerError) as caught:
        client.open(fps=1000.0)
    assert caught.value.message == "open: fps 1000 is outside 1..240"
    session = client.open()
    with pytest.raises(ServerError) as caught:
        session.set(emotion="smug")
    assert caught.value.code == "bad_field" and caught.value.message.startswith("set: unknown emotion 'smug'")
    with pytest.raises(ServerError) as caught:
        session.speak_audio(np.zeros(100, np.int16), 1000)
    assert caught.value.message == "speak_audio: sample_rate 1000 is outside 8000..96000"


def test_frame_over_the_protocol_limit_gets_an_error():
    server = make_server(voice="espeak", max_bulk_bytes=64 * 1024)
    try:
        peer = RawPeer(server.endpoint)
        peer.hello()
        header = pack(v=1, type="speak_audio", seq=2, session="x", utterance="u", sample_rate=16000, offset=0, final=True)
        peer.send(header, b"\x00" * (64 * 1024 + 2))
        reply = peer.receive()
        assert (reply["code"], reply["message"]) == ("too_large", "bulk frame 1 is 65538 bytes; the limit is 65536")
        peer.close()
    finally:
        server.stop()


def test_frame_over_the_transport_limit_drops_only_that_peer():
    server = make_server(voice="espeak", transport_max_bytes=256 * 1024)
    try:
        with Client(server.endpoint, timeout=10) as bystander:
            session = bystander.open(realtime=False)
            peer = RawPeer(server.endpoint)
            peer.hello()
            peer.send(pack(v=1, type="ping", seq=2, client_time=1.0), b"\x00" * (512 * 1024))
            time.sleep(0.3)
            assert session.say("Still serving.").end["status"] == "done"
            peer.close()
    finally:
        server.stop()


def test_a_client_that_vanishes_mid_stream_does_not_hurt_others(espeak_server):
    ctx = zmq.Context()
    quitter = Client(espeak_server.endpoint, timeout=10, context=ctx)
    quitter_session = quitter.open()
    quitter_session.say_async("I will disappear in the middle of this long sentence, never to be heard from again.")
    time.sleep(0.3)
    quitter.close()
    ctx.destroy(linger=0)
    with Client(espeak_server.endpoint, timeout=20) as survivor:
        assert survivor.open(realtime=False).say("Are you still there?").end["status"] == "done"


def test_a_client_that_stops_reading_does_not_stall_others():
    server = make_server(voice="espeak", send_hwm=20)
    ctx = zmq.Context()
    try:
        stalled = Client(server.endpoint, timeout=10, context=ctx)
        stalled._socket.setsockopt(zmq.RCVHWM, 20)
        stalled_session = stalled.open(realtime=False)
        # Every say is answered even while the stream of the one before fills the pipe: replies
        # wait for room instead of being dropped.
        for _ in range(4):
            stalled_session.say_async("A long line that nobody reads, filling every buffer on the way, again and again.")
        # It never reads again. Another client must still be served promptly.
        with Client(server.endpoint, timeout=10) as other:
            t0 = time.monotonic()
            result = other.open(realtime=False).say("Still responsive?")
            assert result.end["status"] == "done" and time.monotonic() - t0 < 5.0
    finally:
        ctx.destroy(linger=0)
        server.stop()


def test_speak_audio_is_refused_while_a_line_is_playing(client):
    from avbridge.client import ServerError
    session = client.open()
    session.say_async("I am still talking, please wait for me to finish this sentence.")
    time.sleep(0.3)
    with pytest.raises(ServerError) as caught:
        session.speak_audio(np.zeros(1600, np.int16), 16000)
    assert caught.value.code == "busy" and "is speaking utterance" in caught.value.message


def test_random_garbage_never_stops_the_server(espeak_server):
    rng = np.random.default_rng(7)
    peer = RawPeer(espeak_server.endpoint)
    peer.hello()
    for _ in range(200):
        frames = [rng.bytes(int(rng.integers(0, 64))) for _ in range(int(rng.integers(1, 4)))]
        peer.send(*frames)
    errors = [peer.receive().type for _ in range(200)]
    assert set(errors) == {"error"}
    peer.send(*encode(Message("ping", {"client_time": 1.0}, seq=999)))
    assert peer.receive().type == "pong"
    peer.close()


def test_a_quiet_session_breathes_and_a_line_takes_over(espeak_server):
    with Client(espeak_server.endpoint, timeout=20) as client:
        session = client.open()
        time.sleep(1.5)
        client.ping(session.id)                       # lets the client read what has arrived
        idle = [m for m, _ in client.idle[session.id]]
        assert idle[0].type == "stream" and idle[0]["idle"] is True and idle[0]["audio"] is False
        frames = np.concatenate([np.frombuffer(m.bulk[0], "<f4").reshape(m["count"], 63) for m in idle if m.type == "frames"])
        assert len(frames) >= 60                      # a second and more, sent ahead of the clock
        jaw = frames[:, 17]
        assert 0.005 < jaw.min() and jaw.max() < 0.06 and np.ptp(jaw) > 0.005      # breathing, mouth shut
        result = session.say("Hello.")
        ends = [m for m, _ in client.idle[session.id] if m.type == "end"]
        assert ends and ends[0]["time"] == pytest.approx(result.start, abs=1e-9)
        assert ends[0]["frames"] == int(np.ceil((result.start - idle[0]["time"]) * 60 - 1e-9))
        time.sleep(1.0)
        client.ping(session.id)
        headers = [m for m, _ in client.idle[session.id] if m.type == "stream"]
        assert len(headers) == 2 and headers[1]["time"] >= result.end["time"] - 1e-6   # idle again after the line


def test_thinking_looks_away_until_the_reply(espeak_server):
    with Client(espeak_server.endpoint, timeout=20) as client:
        session = client.open()
        time.sleep(0.3)
        session.set(thinking=True)
        sent_at = session.client.ping(session.id)[1]["session_time"]
        time.sleep(2.8)
        client.ping(session.id)
        idle = [m for m, _ in client.idle[session.id] if m.type == "frames"]
        # Idle frames up to a second ahead were made before the set; the look eases in after
        # (0.25 s time constant), so 1.6 s on every frame has it.
        late = [m for m in idle if m["time"] > sent_at + 1.6]
        gaze = np.concatenate([np.frombuffer(m.bulk[0], "<f4").reshape(m["count"], 63)[:, 59:61] for m in late])
        assert np.median(np.abs(gaze[:, 0])) > 0.12 and np.median(gaze[:, 1]) < -0.06   # aside and up
        assert espeak_server.service.sessions[session.id].params.thinking is True
        session.say("I have it.")
        assert espeak_server.service.sessions[session.id].params.thinking is False   # the reply ends the thinking


def test_idle_can_be_turned_off(espeak_server):
    with Client(espeak_server.endpoint, timeout=20) as client:
        session = client.open(idle=False)
        time.sleep(0.8)
        client.ping(session.id)
        assert not client.idle[session.id]


def test_a_client_that_vanishes_while_quiet_loses_its_sessions(espeak_server):
    # Its idle stream keeps sending; the first send after the connection drops finds it gone.
    ctx = zmq.Context()
    client = Client(espeak_server.endpoint, timeout=10, context=ctx)
    session = client.open()
    assert session.id in espeak_server.service.sessions
    client.close()
    ctx.destroy(linger=0)
    deadline = time.monotonic() + 8
    while session.id in espeak_server.service.sessions and time.monotonic() < deadline:
        time.sleep(0.05)
    assert session.id not in espeak_server.service.sessions


def test_speak_audio_pieces_in_flight_after_an_interrupt_are_accepted_and_dropped(espeak_server):
    with Client(espeak_server.endpoint, timeout=20) as client:
        session = client.open()
        piece = np.full(1600, 3000, np.int16)
        fields = {"session": session.id, "utterance": "vo", "sample_rate": 16000}
        client.request(Message("speak_audio", {**fields, "offset": 0, "final": False}, [piece.tobytes()]))
        session.interrupt()
        # The engine had already sent these before it learned of the interrupt.
        for k, final in ((1, False), (2, True)):
            reply = client.request(Message("speak_audio", {**fields, "offset": k * 1600, "final": final}, [piece.tobytes()]))
            assert reply.type == "ok"
        ends = [m for m, _ in session.stream("vo") if m.type == "end"]
        assert ends[-1]["status"] == "interrupted"
