"""Scale-out: the front door's routing on its own, then a real local Ray cluster (two worker
processes on loopback) serving sessions through one address, and a worker killed under load."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import msgpack
import numpy as np
import pytest
from avbridge.client import Client, SessionLost
from avbridge.protocol import Message, decode, encode
from avbridge.server.cluster.routing import Forward, Reply, Router

LONG_LINE = ("The caravan leaves at dawn and the road north is long, so pack enough water for three days, "
             "and do not trust the ferryman at the second river, whatever he promises you.")


def frames_of(kind: str, seq: int, **fields) -> list[bytes]:
    m = Message(kind, fields)
    m.seq = seq
    return encode(m)


def raw(kind: str, seq: int, **fields) -> list[bytes]:
    """A worker's message as the front door sees it: only its header is read."""
    return [msgpack.packb({"v": 1, "type": kind, "seq": seq, **fields}, use_bin_type=True)]


def header(frames) -> dict:
    return msgpack.unpackb(bytes(frames[0]), raw=False)


def opened(router: Router, client: bytes, seq: int, sid: str) -> str:
    """Send an `open` through the router and answer it from the worker it went to."""
    [forward] = router.from_client(client, frames_of("open", seq), 1 << 20)
    assert isinstance(forward, Forward)
    router.from_worker(forward.worker, client, raw("opened", 7, re=seq, session=sid, fps=60.0,
                                                         sample_rate=22050, voice="piper", motion="procedural"))
    return forward.worker


def test_sessions_spread_over_workers_and_each_client_sees_one_connection():
    router = Router(["worker-1", "worker-2"])
    router.worker_up("worker-1", "tcp://127.0.0.1:1", "a")
    router.worker_up("worker-2", "tcp://127.0.0.1:2", "b")
    client = b"engine"
    [hello] = router.from_client(client, frames_of("hello", 1, versions=[1], client="t"), 1 << 20)
    assert isinstance(hello, Forward) and hello.hello is None
    placed = [opened(router, client, 2 + i, f"s{i}") for i in range(4)]
    assert sorted(placed) == ["worker-1", "worker-1", "worker-2", "worker-2"]
    # The first open on the other worker carried the client's hello ahead of it; that worker's
    # welcome is the front door's, not the client's.
    other = "worker-2" if hello.worker == "worker-1" else "worker-1"
    assert router.from_worker(other, client, raw("welcome", 1, re=1)) is None
    # Requests follow their session; the worker's seqs become one sequence for the client.
    for i in range(4):
        [f] = router.from_client(client, frames_of("say", 10 + i, session=f"s{i}", text="hi"), 1 << 20)
        assert f.worker == placed[i]
    seqs = [header(router.from_worker(placed[i], client, raw("ok", 99, re=10 + i, session=f"s{i}",
                                                                    utterance=f"u{i}")))["seq"] for i in range(4)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    # After a reconnect (the front door closed the client's DEALERs when it left), the hello goes
    # to every worker with one of its sessions, and is welcomed with the sessions on all of them.
    for c in router.clients.values():
        c.connected.clear()
    again, *others = router.from_client(client, frames_of("hello", 20, versions=[1], client="t"), 1 << 20)
    assert [f.worker for f in others] == [w for w in ("worker-1", "worker-2") if w != again.worker]
    assert router.from_worker(others[0].worker, client, raw("welcome", 50, re=20)) is None
    welcome = header(router.from_worker(again.worker, client, raw("welcome", 50, re=20)))
    assert welcome["sessions"] == ["s0", "s1", "s2", "s3"]


def test_a_dead_worker_ends_its_sessions_lines_with_an_error_and_names_the_cause():
    router = Router(["worker-1", "worker-2"])
    router.worker_up("worker-1", "tcp://127.0.0.1:1", "a")
    router.worker_up("worker-2", "tcp://127.0.0.1:2", "b")
    client = b"engine"
    [hello] = router.from_client(client, frames_of("hello", 1, versions=[1], client="t"), 1 << 20)
    router.from_worker(hello.worker, client, raw("welcome", 1, re=1))
    w0, w1 = opened(router, client, 2, "s0"), opened(router, client, 3, "s1")
    assert w0 != w1
    router.from_worker(w0 if w0 != hello.worker else w1, client, raw("welcome", 1, re=1))   # to the hello sent ahead
    # s0: a line streaming (0.5 s of audio and 30 frames passed on) and one queued.
    router.from_worker(w0, client, raw("ok", 5, re=4, session="s0", utterance="u1"))
    router.from_worker(w0, client, raw("stream", 6, re=4, session="s0", utterance="u1", time=1.0, fps=60.0,
                                             sample_rate=22050, audio_format="s16le", audio=True,
                                             blendshapes=["a"], frame_layout=[52, 7, 4]))
    router.from_worker(w0, client, [*raw("audio", 7, session="s0", utterance="u1", time=1.0, offset=0)[:1],
                                    np.zeros(11025, "<i2").tobytes()])
    router.from_worker(w0, client, [*raw("frames", 8, session="s0", utterance="u1", time=1.0, first=0, count=30)[:1],
                                    np.zeros(30 * 63, "<f4").tobytes()])
    router.from_worker(w0, client, raw("ok", 9, re=5, session="s0", utterance="u2"))
    # A request in flight when the worker dies is answered by the front door, not left to time out.
    router.from_client(client, frames_of("interrupt", 40, session="s0"), 1 << 20)
    replies = router.worker_lost(w0, "its worker process (worker-x) died")
    messages = [decode(r.frames) for r in replies]
    assert all(isinstance(r, Reply) and r.client == client for r in replies)
    assert [(m.type, m.get("utterance"), m.get("re")) for m in messages] == [
        ("end", "u1", 4), ("end", "u2", 5), ("error", None, None), ("error", None, 40)]
    assert messages[3]["code"] == "session_closed" and "worker-x" in messages[3]["message"]
    first = messages[0]
    assert first["status"] == "error" and first["samples"] == 11025 and first["frames"] == 30 and first["re"] == 4
    assert first["time"] == pytest.approx(1.5) and "worker-x" in first["reason"]
    assert messages[2]["code"] == "session_closed" and messages[2]["session"] == "s0" and "died" in messages[2]["message"]
    assert "re" not in messages[2].fields
    # The lost session is answered by the front door; the other is still routed; new sessions
    # go to the worker that is up.
    [answer] = router.from_client(client, frames_of("say", 30, session="s0", text="hi"), 1 << 20)
    assert isinstance(answer, Reply) and decode(answer.frames)["code"] == "session_closed"
    [f] = router.from_client(client, frames_of("say", 31, session="s1", text="hi"), 1 << 20)
    assert isinstance(f, Forward) and f.worker == w1
    assert opened(router, client, 32, "s2") == w1


# -- a real local Ray cluster ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    pytest.importorskip("ray")
    from avbridge.cli.bench import ServerProcess
    log = tmp_path_factory.mktemp("cluster") / "serve.log"
    server = ServerProcess("espeak", 60.0, extra=["--log-level", "info", "--cluster", "local", "--cluster-workers", "2",
                                                  "--cluster-cpus", "2"], log=log)
    yield server
    server.stop()


def placements(log: Path) -> list[str]:
    return re.findall(r"open placed client=\S+ worker=(\S+)", log.read_text())


@pytest.mark.timeout(240)
def test_a_ray_cluster_serves_sessions_through_one_address_and_survives_a_dead_worker(cluster):
    with Client(cluster.endpoint, timeout=30) as client:
        sessions = [client.open() for _ in range(4)]
        assert sorted(placements(cluster.log)) == ["worker-1", "worker-1", "worker-2", "worker-2"]
        worker_of = dict(zip([s.id for s in sessions], placements(cluster.log)))
        for s in sessions:
            result = s.say("Hello from a worker.", timeout=60)
            assert result.end["status"] == "done" and len(result.track) > 30
        # Every session talks; one worker process is SIGKILLed mid-line.
        lines = {s.id: s.say_async(LONG_LINE) for s in sessions}
        time.sleep(1.5)
        killed_pid = cluster.kill_cluster_worker()
        killed = {pid_worker for pid_worker in ("worker-1", "worker-2")
                  if f"pid={killed_pid}" in _worker_up_line(cluster.log, pid_worker)}
        assert len(killed) == 1
        [dead] = killed
        ends, samples, gaps = {}, {}, 0
        deadline = time.monotonic() + 60
        while len(ends) < 4 and time.monotonic() < deadline:
            got = client.next_any_stream_message(timeout=0.5)
            if got is None:
                continue
            m, _ = got
            if m["utterance"] != lines.get(m["session"]):
                continue
            if m.type == "audio":
                gaps += m["offset"] != samples.get(m["session"], 0)
                samples[m["session"]] = m["offset"] + len(m.bulk[0]) // 2
            elif m.type == "end":
                ends[m["session"]] = m
        assert len(ends) == 4, f"every line ends, one way or the other: {ends}"
        for sid, end in ends.items():
            if worker_of[sid] == dead:
                assert end["status"] == "error" and "died" in end["reason"], end.fields
                assert sid in client.lost and "died" in client.lost[sid]
                with pytest.raises(SessionLost):
                    client.request(Message("say", {"session": sid, "text": "Anyone there?"}))
            else:
                assert end["status"] == "done", "a session on the other worker did not notice"
        assert gaps == 0
        # A new session is placed on a worker that is up, and speaks.
        fresh = client.open()
        assert fresh.say("Still here.", timeout=60).end["status"] == "done"
        # Ray restarts the dead worker; it comes back as a new process.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and _worker_up_line(cluster.log, dead).count("worker up") < 2:
            time.sleep(0.5)
        assert f"pid={killed_pid}" not in _worker_up_line(cluster.log, dead).splitlines()[-1]


def _worker_up_line(log: Path, worker: str) -> str:
    return "\n".join(line for line in log.read_text().splitlines() if f"worker up worker={worker} " in line)


def test_the_cluster_refuses_a_plaintext_network_bind():
    pytest.importorskip("ray")
    result = subprocess.run([sys.executable, "-m", "avbridge", "serve", "--bind", "tcp://0.0.0.0:0", "--cluster", "local"],
                            check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "without CURVE" in result.stderr



def test_with_no_worker_up_a_request_is_refused_as_busy():
    router = Router(["worker-1"])
    [reply] = router.from_client(b"engine", frames_of("open", 3), 1 << 20)
    assert isinstance(reply, Reply)
    error = decode(reply.frames)
    assert error["code"] == "busy" and error["re"] == 3 and "no worker is up" in error["message"]
    [reply] = router.from_client(b"engine", [b"\xc1"], 1 << 20)     # unreadable: no `re`
    assert decode(reply.frames)["code"] == "busy" and "re" not in decode(reply.frames).fields
