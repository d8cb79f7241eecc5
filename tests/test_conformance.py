"""Over real sockets, as a client written from SPEC.md alone would meet the server: raw DEALER
sockets with libzmq's defaults, clients that stop reading, processes killed with SIGKILL, a server
under synthesis load, a server shut down and restarted. Each test is one finding of an outside
review (the conformance run and the soak run); the fixed behaviour is what SPEC.md now says."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import msgpack
import numpy as np
import pytest
import zmq
from avbridge.client import Client, RequestLost, ServerGone, SessionLost
from avbridge.protocol import Message, decode, encode
from conftest import make_server

ROOT = Path(__file__).resolve().parents[1]
LONG_TEXT = " ".join(["The caravan left at dawn and the road was long, but nobody complained about it."] * 12)


class RawClient:
    """A spec client: one DEALER with libzmq's defaults (receive queue of 1000 messages, no
    heartbeats of its own), numbering its own requests."""

    def __init__(self, endpoint: str, rcvhwm: int | None = None, rcvbuf: int = 0) -> None:
        self.ctx = zmq.Context()
        self.socket = self.ctx.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        if rcvhwm is not None:
            self.socket.setsockopt(zmq.RCVHWM, rcvhwm)
        if rcvbuf:
            self.socket.setsockopt(zmq.RCVBUF, rcvbuf)
        self.socket.connect(endpoint)
        self.seq = 0

    def send(self, type_name: str, bulk: list[bytes] | None = None, **fields) -> int:
        self.seq += 1
        self.socket.send_multipart(encode(Message(type_name, fields, bulk or [], seq=self.seq)))
        return self.seq

    def raw(self, header: dict, *bulk: bytes) -> Message:
        """Send a header our encoder would refuse to write, and wait for the answer to it."""
        self.seq += 1
        self.socket.send_multipart([msgpack.packb({"v": 1, "seq": self.seq, **header}), *bulk])
        while True:
            m = self.receive()
            if m.get("re") == self.seq:
                return m

    def receive(self, timeout: float = 10.0) -> Message:
        if not self.socket.poll(int(timeout * 1000)):
            raise TimeoutError("nothing from the server")
        return decode(self.socket.recv_multipart())

    def reply(self, type_name: str, bulk: list[bytes] | None = None, **fields) -> Message:
        seq = self.send(type_name, bulk, **fields)
        while True:
            m = self.receive()
            if m.get("re") == seq and m.type in ("welcome", "opened", "ok", "error", "closed", "pong"):
                return m

    def close(self) -> None:
        self.ctx.destroy(linger=0)


@pytest.fixture(scope="module")
def quick_liveness_server():
    """Liveness after 1.5 s, so the tests below need not wait 5."""
    server = make_server(voice="espeak", heartbeat_ms=500, heartbeat_timeout_ms=1500)
    yield server
    server.stop()


def _read_until_end(client: RawClient, utterance: str, timeout: float = 30.0) -> list[Message]:
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = client.receive(timeout=deadline - time.monotonic())
        out.append(m)
        if m.type == "end" and m.get("utterance") == utterance:
            return out
    raise TimeoutError(f"no end for {utterance}")


# -- conformance 1: a slow reader is not a gone client ------------------------------------------
def test_a_client_that_stops_reading_for_longer_than_the_heartbeat_timeout_gets_its_whole_stream(quick_liveness_server):
    client = RawClient(quick_liveness_server.endpoint)
    try:
        client.reply("hello", versions=[1], client="spec-client")
        sid = client.reply("open", realtime=False)["session"]
        uid = client.reply("say", session=sid, text=LONG_TEXT)["utterance"]
        time.sleep(3 * 1.5 + 0.5)          # three heartbeat timeouts without reading a byte
        messages = _read_until_end(client, uid)
        end = messages[-1]
        assert end["status"] == "done"
        seqs = [m.seq for m in messages]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))     # nothing numbered and dropped
        audio = [m for m in messages if m.type == "audio"]
        frames = [m for m in messages if m.type == "frames"]
        assert len(messages) > 1000                                   # more than libzmq's queue holds
        assert sum(len(m.bulk[0]) // 2 for m in audio) == end["samples"]
        assert sum(m["count"] for m in frames) == end["frames"]
        assert sid in quick_liveness_server.service.sessions
    finally:
        client.close()


# -- conformance 2: killed clients lose their sessions, quiet or not ----------------------------
KILLED_CLIENT = textwrap.dedent('''
    import sys, time, zmq
    sys.path.insert(0, {tests!r})
    from test_conformance import RawClient, LONG_TEXT
    c = RawClient({endpoint!r}, rcvhwm=4, rcvbuf=4096)
    c.reply("hello", versions=[1], client="doomed")
    quiet = c.reply("open", realtime=False)["session"]
    still = c.reply("open", idle=False)["session"]
    full = c.reply("open", realtime=False)["session"]
    c.reply("say", session=full, text=LONG_TEXT)      # never read: its pipe fills
    print(quiet, still, full, flush=True)
    time.sleep(60)
''')


def test_sigkilled_clients_lose_quiet_idle_less_and_full_pipe_sessions_within_the_liveness_timeout(quick_liveness_server):
    server = quick_liveness_server
    code = KILLED_CLIENT.format(tests=str(ROOT / "tests"), endpoint=server.endpoint)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        ids = proc.stdout.readline().split()
        assert len(ids) == 3 and all(i in server.service.sessions for i in ids)
        time.sleep(0.5)                      # the unread stream fills the pipe
        proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        while any(i in server.service.sessions for i in ids) and time.monotonic() - killed < 5:
            time.sleep(0.05)
        closed_after = time.monotonic() - killed
        assert not any(i in server.service.sessions for i in ids)
        assert closed_after < 1.5 + 1.0       # the liveness timeout, and the loop's turn
    finally:
        proc.kill()
        proc.wait()


# -- conformance 3: ranges before bulk frames -----------------------------------------------------
def test_a_value_out_of_range_is_bad_field_before_the_bulk_frames_are_counted(quick_liveness_server):
    client = RawClient(quick_liveness_server.endpoint)
    try:
        client.reply("hello", versions=[1], client="spec-client")
        sid = client.reply("open")["session"]
        refused = client.raw({"type": "speak_audio", "session": sid, "utterance": "x", "sample_rate": 5, "offset": 0,
                              "final": True})
        assert (refused["code"], refused["message"]) == ("bad_field", "speak_audio: sample_rate 5 is outside 8000..96000")
        refused = client.raw({"type": "open", "fps": 0.0}, b"\x00\x00")
        assert (refused["code"], refused["message"]) == ("bad_field", "open: fps 0 is outside 1..240")
        refused = client.raw({"type": "say", "session": sid, "text": "hi"}, b"\x00\x00")
        assert refused["code"] == "bad_frames"                 # in range: then the frames count
    finally:
        client.close()


# -- conformance 4 and soak 1: idle under synthesis load ----------------------------------------
def test_idle_keeps_its_frames_and_its_end_counts_its_span_while_other_sessions_synthesise():
    server = make_server(voice="piper", workers=1)
    try:
        with Client(server.endpoint, timeout=60) as client:
            quiet = [client.open() for _ in range(3)]
            busy = [client.open() for _ in range(3)]
            time.sleep(0.8)
            lines = [s.say_async(f"Number {i}. " + LONG_TEXT[: 400 + 37 * i]) for i, s in enumerate(busy)]
            time.sleep(1.0)                                    # synthesis is running for the three
            replies = [s.say(f"Yes, {i}.") for i, s in enumerate(quiet)]
            for session, result in zip(quiet, replies):
                idle = [m for m, _ in client.idle[session.id]]
                header = next(m for m in idle if m.type == "stream")
                end = next(m for m in idle if m.type == "end" and m["utterance"] == header["utterance"])
                assert end["time"] == pytest.approx(result.start)
                span = int(np.ceil((end["time"] - header["time"]) * 60 - 1e-9))
                got = {m["first"] + i for m in idle if m.type == "frames" and m["utterance"] == header["utterance"]
                       for i in range(m["count"])}
                assert end["frames"] == span and set(range(span)) <= got
            for s, uid in zip(busy, lines):
                s.interrupt()
    finally:
        server.stop()


# -- soak 2: shutting down never takes back delivered work ----------------------------------------
def test_a_server_stopping_sends_ends_only_for_lines_not_yet_delivered():
    server = make_server(voice="espeak")
    with Client(server.endpoint, timeout=20) as client:
        offline = client.open(realtime=False)
        delivered = [offline.say("One line."), offline.say("And another.")]
        live = client.open(idle=False)
        playing = live.say_async(LONG_TEXT)
        time.sleep(1.0)
        server.stop()
        farewell = [m for m in live.received(1.0) if m[0].type == "end"]
        assert not [m for m, _ in client.idle[offline.id] if m.type == "end" and m["status"] == "interrupted"]
        stray = [m for q in client._streams.values() for m in q if m.type == "end" and m["utterance"] in {d.id for d in delivered}]
        assert not stray
        assert len(farewell) == 1
        end = farewell[0][0]
        assert end["utterance"] == playing and end["status"] == "interrupted" and end["reason"] == "server shutting down"


# -- soak 3: an interrupt during a stall counts what was sent --------------------------------------
def test_an_interrupt_during_a_stall_counts_only_what_the_client_was_sent():
    server = make_server(voice="espeak", send_hwm=8, send_buffer_bytes=8192)
    client = RawClient(server.endpoint, rcvhwm=8, rcvbuf=8192)
    try:
        client.reply("hello", versions=[1], client="stalled")
        sid = client.reply("open", idle=False)["session"]
        uid = client.reply("say", session=sid, text=LONG_TEXT)["utterance"]
        time.sleep(4.0)                                   # not reading: the pipe fills
        client.send("interrupt", session=sid)
        messages = _read_until_end(client, uid)
        end = messages[-1]
        assert end["status"] == "interrupted"
        frames = sorted(m["first"] + i for m in messages if m.type == "frames" for i in range(m["count"]))
        samples = max(m["offset"] + len(m.bulk[0]) // 2 for m in messages if m.type == "audio")
        assert frames == list(range(len(frames))) and end["frames"] == len(frames)
        assert end["samples"] == samples
        assert end["time"] < 3.5           # well before the clock reached the cut it would have made
    finally:
        client.close()
        server.stop()


# -- soak 4: the Python client survives the server ------------------------------------------------
def _serve(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "avbridge", "serve", "--voice", "espeak",
                             "--bind", f"tcp://127.0.0.1:{port}", "--mirror", "off"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        if "serving" in line:
            return proc
    raise RuntimeError("the server did not start")


def test_the_python_client_says_hello_again_after_a_restart_and_names_the_sessions_it_lost():
    from avbridge.cli.bench import free_port
    port = free_port()
    server = _serve(port)
    try:
        with Client(f"tcp://127.0.0.1:{port}", timeout=20) as client:
            session = client.open(realtime=False)
            assert session.say("Before.").end["status"] == "done"
            server.send_signal(signal.SIGKILL)
            server.wait()
            server = _serve(port)
            rtt, pong = client.ping()                      # sent while it may still be reconnecting
            assert pong.type == "pong"
            assert session.id in client.lost and ("session_lost", session.id) in client.events
            with pytest.raises(SessionLost) as caught:
                session.say("After.")
            assert session.id in str(caught.value)
            fresh = client.open(realtime=False)
            assert fresh.say("After.").end["status"] == "done"
    finally:
        server.kill()
        server.wait()


def test_a_dead_server_is_reported_within_its_liveness_timeout_not_the_request_timeout():
    from avbridge.cli.bench import free_port
    port = free_port()
    server = _serve(port)
    try:
        with Client(f"tcp://127.0.0.1:{port}", timeout=30) as client:
            client.open()
            server.send_signal(signal.SIGKILL)
            server.wait()
            started = time.monotonic()
            with pytest.raises((ServerGone, RequestLost)):
                client.ping()
            assert time.monotonic() - started < client._liveness_s + 1.0
    finally:
        server.kill()
        server.wait()
