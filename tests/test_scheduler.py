"""The scheduler, the pacer and the session lifecycle under a fake clock: no sockets, no threads,
no sleeps. Each test moves time by hand and runs the pool's tasks when it chooses, so a late
worker, a full pipe or a vanished client is exact and repeatable."""

from __future__ import annotations

import numpy as np
import pytest
from avbridge.server.scheduler import HEAVY, LIGHT, Scheduler
from fakes import Harness, pcm_tone

A = b"a"
LONG_TEXT = " ".join(["The caravan left at dawn and the road was long, but nobody complained about it."] * 6)


# -- the scheduler alone ------------------------------------------------------------------------
def test_earliest_deadline_first_with_one_task_at_a_time_per_key():
    s = Scheduler()
    ran = []
    s.submit(lambda: ran.append("s1-late"), lane=LIGHT, deadline=5.0, key="s1")
    s.submit(lambda: ran.append("s1-next"), lane=LIGHT, deadline=1.0, key="s1")   # behind its key's first
    s.submit(lambda: ran.append("s2"), lane=LIGHT, deadline=2.0, key="s2")
    s.submit(lambda: ran.append("free"), lane=HEAVY, deadline=3.0)
    first = s.take()
    assert first is not None and first.key == "s2"            # s1's head is due at 5, s2's at 2
    assert s.take().name == "<lambda>" and s.take() is not None   # "free" (3), then s1's head (5)
    assert s.take() is None            # s1 is running: its next task waits though its deadline is earliest
    s.done(first)


def test_a_light_worker_never_takes_heavy_work_and_a_key_keeps_its_order():
    s = Scheduler()
    order = []
    s.submit(lambda: order.append("synth"), lane=HEAVY, deadline=0.0)
    s.submit(lambda: order.append("idle-a1"), lane=LIGHT, deadline=9.0, key="a")
    s.submit(lambda: order.append("idle-a2"), lane=LIGHT, deadline=1.0, key="a")
    while s.run_one((LIGHT,)):
        pass
    assert order == ["idle-a1", "idle-a2"]
    assert s.pending(HEAVY) == 1 and s.run_one((LIGHT,)) is None
    s.run_one()
    assert order[-1] == "synth"
    with pytest.raises(ValueError):
        s.submit(lambda: None, lane="urgent", deadline=0)


def test_a_closed_sessions_queued_tasks_are_dropped():
    s = Scheduler()
    s.submit(lambda: None, lane=LIGHT, deadline=0, key="gone")
    s.submit(lambda: None, lane=LIGHT, deadline=0, key="gone")
    assert s.drop("gone") == 2 and s.take() is None


# -- pacing and queueing ------------------------------------------------------------------------
def test_realtime_messages_leave_no_earlier_than_lead_before_their_time():
    h = Harness()
    sid = h.open(A, idle=False)
    h.request(A, "say", session=sid, text="Bob bought a big map.")
    h.run(4.0)
    session_start = h.service.started   # the session was opened at the harness clock's start
    stream = [(at, m) for at, m in h.received[A] if m.get("session") == sid and "time" in m.fields]
    assert stream[-1][1].type == "end" and stream[-1][1]["status"] == "done"
    lead = h.service.config.lead_s
    for at, m in stream:
        assert at - session_start >= m["time"] - lead - 0.011      # one 10 ms step of the fake clock
    audio = [m for _, m in stream if m.type == "audio"]
    assert sum(len(m.bulk[0]) // 2 for m in audio) == stream[-1][1]["samples"]


def test_a_second_line_is_queued_and_starts_where_the_first_ends():
    h = Harness()
    sid = h.open(A, realtime=False)
    u1 = h.request(A, "say", session=sid, text="First line.")[0]["utterance"]
    u2 = h.request(A, "say", session=sid, text="Second line.")[0]["utterance"]
    h.run(0.5)
    end1 = h.messages(A, utterance=u1, type_name="end")[0]
    header2 = h.messages(A, utterance=u2, type_name="stream")[0]
    assert header2["time"] == pytest.approx(end1["time"])


def test_a_long_line_parks_while_far_ahead_of_the_clock_and_resumes_as_it_plays():
    h = Harness(produce_ahead_s=1.0)
    sid = h.open(A, idle=False)
    uid = h.request(A, "say", session=sid, text=LONG_TEXT)[0]["utterance"]
    h.run(0.2)
    session = h.service.sessions[sid]
    ahead = session.ahead_of_clock(session.active)
    assert 1.0 < ahead < 6.0                           # one sentence past the limit, then parked
    assert h.service.scheduler.pending() == 0           # parked: no task holds a worker or waits
    h.run(ahead + 1.0)
    assert session.ahead_of_clock(session.active) > 1.0    # the clock caught up: it went on
    h.run(60.0, step=0.05)
    assert h.messages(A, utterance=uid, type_name="end")[0]["status"] == "done"


# -- idle ---------------------------------------------------------------------------------------
def test_idle_is_kept_ahead_and_a_late_worker_leaves_no_gap_before_a_line():
    h = Harness()
    sid = h.open(A)
    h.run(1.0)
    idle_id = h.messages(A, session=sid, type_name="stream")[0]["utterance"]
    # The workers are busy for a second (no task runs); then a line starts.
    h.run(1.0, work=False)
    uid = h.request(A, "say", session=sid, text="Now then.")[0]["utterance"]
    h.run(1.0)
    end = h.messages(A, utterance=idle_id, type_name="end")[0]
    header = h.messages(A, utterance=idle_id, type_name="stream")[0]
    line = h.messages(A, utterance=uid, type_name="stream")[0]
    assert end["time"] == pytest.approx(line["time"])
    span = int(np.ceil((end["time"] - header["time"]) * 60 - 1e-9))
    assert end["frames"] == span
    assert sorted(set(i for i in h.frame_indices(A, idle_id) if i < span)) == list(range(span))


def test_speak_audio_is_answered_at_once_and_animated_as_the_sessions_task():
    h = Harness()
    sid = h.open(A, realtime=False)
    pcm = pcm_tone(1.0)
    reply = h.request(A, "speak_audio", [pcm[:8000].tobytes()], session=sid, utterance="line", sample_rate=16000,
                      offset=0, final=False)
    assert reply[0].type == "ok" and not h.messages(A, utterance="line", type_name="frames")
    assert h.service.scheduler.pending(LIGHT) == 1       # the motion waits for a worker
    h.request(A, "speak_audio", [pcm[8000:].tobytes()], session=sid, utterance="line", sample_rate=16000,
              offset=8000, final=True)
    h.run(0.1)
    end = h.messages(A, utterance="line", type_name="end")[0]
    assert end["frames"] == 60 and len(h.frame_indices(A, "line")) == 60


# -- what an end counts ---------------------------------------------------------------------------
def test_an_interrupt_during_a_stall_counts_only_what_was_sent():
    h = Harness()
    sid = h.open(A, idle=False)
    uid = h.request(A, "say", session=sid, text=LONG_TEXT)[0]["utterance"]
    h.run(1.0)
    h.pipe[A] = "again"                   # the client stops reading
    h.run(2.0)
    h.pipe[A] = "ok"
    end = h.request(A, "interrupt", session=sid)[0]
    assert end.type == "end" and end["status"] == "interrupted"
    h.run(0.5)
    frames, samples = h.frame_indices(A, uid), h.samples(A, uid)
    assert end["frames"] == len(frames) == max(frames) + 1
    assert end["samples"] == samples
    assert end["time"] == pytest.approx(h.messages(A, utterance=uid, type_name="stream")[0]["time"] + end["frames"] / 60)


def test_shutdown_never_takes_back_a_delivered_line():
    h = Harness()
    offline = h.open(A, realtime=False)
    done = h.request(A, "say", session=offline, text="All of this was delivered.")[0]["utterance"]
    live = h.open(A, idle=False)
    playing = h.request(A, "say", session=live, text=LONG_TEXT)[0]["utterance"]
    h.run(1.5)
    assert h.messages(A, utterance=done, type_name="end")[0]["status"] == "done"
    farewells = {(m["session"], m["utterance"]): m for _, _, f in h.service.farewells() for m in [_decode(f)]}
    assert (offline, done) not in farewells                   # its end done stands
    cut = farewells[(live, playing)]
    assert cut["status"] == "interrupted" and cut["reason"] == "server shutting down"
    assert cut["frames"] == len(h.frame_indices(A, playing, live)) and cut["samples"] == h.samples(A, playing, live)


def _decode(frames):
    from avbridge.protocol import decode
    return decode(frames)


# -- clients that go, and clients that only stall -----------------------------------------------
def test_a_closed_connection_closes_its_sessions_after_the_grace_period_only():
    h = Harness(heartbeat_timeout_ms=2000)
    h.fd[A] = 7
    quiet = h.open(A, realtime=False)
    h.service.disconnected(7)
    h.run(1.5)
    assert quiet in h.service.sessions                # it may still come back
    h.run(1.0)
    assert quiet not in h.service.sessions and A not in h.service.clients


def test_a_client_that_comes_back_within_the_grace_period_keeps_its_sessions():
    h = Harness(heartbeat_timeout_ms=2000)
    h.fd[A] = 7
    sid = h.open(A)
    h.service.disconnected(7)
    h.pipe[A] = "gone"
    h.run(1.0)
    h.pipe[A] = "ok"                                   # the same routing id, connected again
    h.run(3.0)
    assert sid in h.service.sessions
    idle = h.messages(A, session=sid, type_name="frames")
    assert [m.seq for _, m in h.received[A]] == list(range(1, len(h.received[A]) + 1)) and idle


def test_a_stalled_client_over_its_byte_budget_is_told_and_its_stream_ends():
    h = Harness(max_backlog_bytes=200_000)
    sid = h.open(A, realtime=False)
    uid = h.request(A, "say", session=sid, text=LONG_TEXT)[0]["utterance"]
    h.pipe[A] = "again"
    h.run(0.5)
    assert sid in h.service.sessions
    h.pipe[A] = "ok"
    h.run(0.2)
    error = h.messages(A, type_name="error")
    end = h.messages(A, utterance=uid, type_name="end")
    assert end and end[0]["status"] == "error" and "stopped reading" in end[0]["reason"]
    assert error and error[0]["code"] == "busy" and sid in error[0]["message"]
    assert end[0]["frames"] == len(h.frame_indices(A, uid))


def test_engine_audio_sent_whole_is_animated_just_ahead_of_need_not_all_at_once():
    h = Harness()
    sid = h.open(A, idle=False)
    pcm = pcm_tone(6.0)
    step = 1600
    for offset in range(0, len(pcm), step):
        h.request(A, "speak_audio", [pcm[offset:offset + step].tobytes()], session=sid, utterance="whole",
                  sample_rate=16000, offset=offset, final=offset + step >= len(pcm))
    h.pool.run_all()
    waiting = h.service.scheduler.pending(LIGHT)
    assert 30 < waiting < 60          # pieces beyond the first 1.5 s wait for their time
    h.run(6.5)
    end = h.messages(A, utterance="whole", type_name="end")[0]
    assert end["status"] == "done" and end["frames"] == 360 and len(h.frame_indices(A, "whole")) == 360
    stream = [(at, m) for at, m in h.received[A] if m.get("utterance") == "whole" and m.type == "frames"]
    start = h.service.started
    assert all(at - start <= m["time"] for at, m in stream)     # every batch before its frames are due


def test_idle_comes_back_a_playout_delay_after_the_line_as_the_spec_says():
    h = Harness()
    sid = h.open(A)
    h.run(0.5)
    uid = h.request(A, "say", session=sid, text="Hello there.")[0]["utterance"]
    h.run(3.0)
    end = h.messages(A, utterance=uid, type_name="end")[0]
    idle = [m for m in h.messages(A, session=sid, type_name="stream") if m.get("idle")]
    assert len(idle) == 2
    assert 0.1 - 1e-6 <= idle[1]["time"] - end["time"] <= 0.15 + 0.011     # SPEC 8.5 (one 10 ms clock step)
