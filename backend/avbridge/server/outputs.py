"""A session's frames out to Unreal (Live Link Face UDP) and VTuber apps (VMC), on the clock, with
stage timecode, and its lines recorded as timecoded take files.

The outputs see exactly what the session's client and the mirror see: every stream message, as it
leaves (Service.flush hands them here). Those leave up to `lead` seconds early (or at once, on an
unpaced session), and UDP receivers have no buffer, so each frame is held until its own time on
the session clock (+ `delay_s`, the latency of wherever the audio plays) and sent then: a thread
here encodes the frames as they come, and a process of its own (server/udp_pacer.py) sends each at
its time, away from the interpreter lock the server's workers hold. An `end` cuts its utterance: frames past its `frames` count are never sent, so an interrupt
stops the face in Unreal where it stops in the engine.

Targets are `host:port`. A host that does not resolve, a port outside 1..65535, or a host off this
machine without `allow_remote` (UDP goes wherever it is told, unencrypted) is refused with a
sentence saying so (`OutputError`; the service answers it as `bad_field`). Whether anything
listens at a UDP target cannot be known from here: nothing answers a datagram.

Take files (with `takes_dir`): for each line of a session, DIR/<session>/<utterance>/speech.wav (a
Broadcast Wave whose time reference is the stage time of its first sample) and track.csv (Live
Link Face layout, takes/write.py) whose timecodes are the stage times of the frames: the same
clock the packets carry.
"""

from __future__ import annotations

import collections
import ipaddress
import itertools
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from avbridge.adapters import livelink, vmc
from avbridge.adapters.timecode import StageClock, TimecodeError
from avbridge.core.track import Track
from avbridge.protocol import Message, ProtocolError, decode
from avbridge.server.requests import OUTPUT_FIELDS

log = logging.getLogger("avbridge.outputs")

DEVICE_ID = "avbridge"
_CUTS_KEPT = 256
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])     # the folder holding avbridge/, for the sender


class OutputError(ValueError):
    """A target or option that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    address: tuple          # the resolved socket address
    family: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def parse_target(text: str, allow_remote: bool, what: str) -> Target:
    host, sep, port_text = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise OutputError(f"{what} target {text!r} is not host:port with a port 1..65535")
    port = int(port_text)
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
    except (socket.gaierror, UnicodeError) as e:
        raise OutputError(f"{what} target {text!r}: the host does not resolve ({e})") from None
    if not allow_remote and not ipaddress.ip_address(address[0]).is_loopback:
        raise OutputError(f"{what} target {text!r} is off this machine ({address[0]}); start the server "
                          f"with --allow-remote-outputs to send face data over the network")
    return Target(host, port, address, family)


def _checked_names(names: str, what: str) -> str:
    if names not in vmc.NAME_SETS:
        raise OutputError(f"{what} {names!r} is not one of {', '.join(vmc.NAME_SETS)}")
    return names


@dataclass
class OutputConfig:
    """What a session sends where. `subject` names its Live Link subject (one per avatar)."""
    livelink: list[Target] = field(default_factory=list)
    subject: str = ""
    vmc: list[Target] = field(default_factory=list)
    vmc_names: str = "vrm0"
    delay_s: float = 0.0

    @property
    def sends(self) -> bool:
        return bool(self.livelink or self.vmc)


@dataclass
class _Line:
    """An utterance as the outputs know it: its fps and start, and (recording) its media."""
    fps: float
    idle: bool
    start: float = 0.0
    frames: list[np.ndarray] = field(default_factory=list)
    audio: list[np.ndarray] = field(default_factory=list)
    sample_rate: int = 0


@dataclass
class _Pending:
    """A frame to encode, and when it is due (monotonic seconds)."""
    due: float
    out: "_SessionOutputs"
    utterance: str
    index: int
    row: np.ndarray


class _SessionOutputs:
    def __init__(self, session_id: str, created: float, fps: float, config: OutputConfig, now: float) -> None:
        self.id = session_id
        self.created = created                  # monotonic time of session time 0
        self.fps = fps
        self.config = config
        self.clock = StageClock.from_wall_clock(now)
        self.lines: dict[str, _Line] = {}
        self.cuts: collections.OrderedDict[str, int] = collections.OrderedDict()   # ended utterances: their frame counts


def outputs_from_config(config, clock: Callable[[], float]) -> Outputs:
    """The server's outputs from its ServerConfig; a bad default target raises OutputError (the
    command line prints it and stops)."""
    _checked_names(config.vmc_names, "vmc names")
    defaults = OutputConfig([parse_target(t, config.allow_remote_outputs, "livelink") for t in config.livelink],
                            config.livelink_subject, [parse_target(t, config.allow_remote_outputs, "vmc") for t in config.vmc],
                            config.vmc_names, config.output_delay_s)
    return Outputs(clock, config.allow_remote_outputs, config.takes_dir, defaults, config.play_audio)


class Outputs:
    def __init__(self, clock: Callable[[], float] = time.monotonic, allow_remote: bool = False,
                 takes_dir: str | Path | None = None, defaults: OutputConfig | None = None,
                 play_audio: str | None = None) -> None:
        self.clock = clock
        self.allow_remote = allow_remote
        self.takes_dir = Path(takes_dir) if takes_dir else None
        self.defaults = defaults or OutputConfig()
        self.play_audio = play_audio          # a local output device ("default" for the system's), or None
        self.audio_device: tuple | None = None  # (name, rate, latency s) once it plays
        self.sessions: dict[str, _SessionOutputs] = {}
        self._unencoded: collections.deque[_Pending] = collections.deque()   # frames to encode, in order
        self._commands: collections.deque[tuple] = collections.deque()       # cuts and drops, after them
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None
        self._process: Any = None               # the sender (server/udp_pacer.py), once anything sends
        self._stopping = False
        self._stats_ready = threading.Event()
        self._ready = threading.Event()
        self._last_stats: tuple = (0, 0, 0, 0, 0.0, 0)
        if self.defaults.sends or play_audio:   # every session will send: start the sender before the first one
            self._start()

    # -- sessions (from the service, on the I/O thread) ----------------------------------------
    def open(self, session_id: str, created: float, fps: float, now: float) -> None:
        if not (self.defaults.sends or self.takes_dir or self.play_audio):
            return
        d = self.defaults
        with self._lock:
            # One subject per avatar: the server-wide name goes to the first session, then name-2...
            taken = {o.config.subject for o in self.sessions.values()}
            subject = next(n for n in (d.subject, *(f"{d.subject}-{k}" for k in itertools.count(2))) if n not in taken) \
                if d.subject else f"avbridge-{session_id}"
            config = OutputConfig(list(d.livelink), subject, list(d.vmc), d.vmc_names, d.delay_s)
            self.sessions[session_id] = _SessionOutputs(session_id, created, fps, config, now)
        if config.sends:
            self._start()

    def configure(self, session_id: str, created: float, fps: float, session_now: float, m: Message) -> None:
        """Apply a `set`'s output fields (livelink, livelink_subject, vmc, vmc_names, timecode);
        a bad one raises ProtocolError (bad_field) and changes nothing."""
        fields = {k: m.fields[k] for k in OUTPUT_FIELDS if k in m.fields}
        if not fields:
            return
        current = self.sessions.get(session_id)
        base = current.config if current else OutputConfig(subject=f"avbridge-{session_id}", delay_s=self.defaults.delay_s)
        try:
            livelink_targets = ([parse_target(t, self.allow_remote, "livelink") for t in fields["livelink"]]
                                if "livelink" in fields else base.livelink)
            vmc_targets = [parse_target(t, self.allow_remote, "vmc") for t in fields["vmc"]] if "vmc" in fields else base.vmc
            names = _checked_names(fields.get("vmc_names", base.vmc_names), "vmc_names")
            subject = fields.get("livelink_subject", base.subject)
            livelink.name_bytes(subject, "livelink_subject")
            stage = StageClock(0.0)
            if "timecode" in fields:
                stage.set(fields["timecode"], fps, session_now)
        except (OutputError, TimecodeError, livelink.PacketError) as e:
            raise ProtocolError("bad_field", f"set: {e}") from None
        with self._lock:
            out = self.sessions.setdefault(session_id, _SessionOutputs(session_id, created, fps, base, session_now))
            out.config = OutputConfig(livelink_targets, subject, vmc_targets, names, base.delay_s)
            if "timecode" in fields:
                out.clock = stage
        log.info("outputs session=%s livelink=%s subject=%s vmc=%s names=%s", session_id,
                 ",".join(map(str, livelink_targets)) or "-", subject, ",".join(map(str, vmc_targets)) or "-", names)
        if out.config.sends:
            self._start()

    def close(self, session_id: str) -> None:
        with self._lock:
            if self.sessions.pop(session_id, None) is not None and self._thread is not None:
                self._commands.append(("drop", session_id))
                self._lock.notify()

    # -- stream messages (from the service, as they leave) ---------------------------------------
    def observing(self, publish: Callable[[str, list[bytes]], None]) -> Callable[[str, list[bytes]], None]:
        """`publish` (the mirror's) that also hands each stream message to the outputs."""
        if not self.sessions:
            return publish

        def both(session_id: str, frames: list[bytes]) -> None:
            publish(session_id, frames)
            self.feed(session_id, frames)
        return both

    def feed(self, session_id: str, frames: list[bytes]) -> None:
        out = self.sessions.get(session_id)
        if out is None:
            return
        try:
            m = decode(frames)
        except ProtocolError:              # only our own encoder writes these
            log.exception("outputs could not read a stream message session=%s", session_id)
            return
        utterance = m.fields.get("utterance", "")
        if m.type == "stream":
            out.lines[utterance] = _Line(m["fps"], bool(m.get("idle", False)), start=m["time"],
                                         sample_rate=m["sample_rate"])
            return
        line = out.lines.get(utterance)
        if line is None and m.type == "frames" and utterance not in out.cuts:
            # A stream that began before this session's outputs were set (its idle stream, most
            # often): its frames go out from here on; it is not recorded, having no beginning.
            line = out.lines[utterance] = _Line(out.fps, True, start=m["time"] - m["first"] / out.fps)
        if line is None:
            return
        if m.type == "frames":
            rows = np.frombuffer(m.bulk[0], "<f4").reshape(-1, 63)
            if self.takes_dir is not None and not line.idle:
                line.frames.append(rows.copy())
            if out.config.sends:
                with self._lock:
                    for i, row in enumerate(rows):
                        due = out.created + m["time"] + i / line.fps + out.config.delay_s
                        self._unencoded.append(_Pending(due, out, utterance, m["first"] + i, row))
                    self._lock.notify()
        elif m.type == "audio" and not line.idle:
            if self.takes_dir is not None:
                line.audio.append(np.frombuffer(m.bulk[0], "<i2").copy())
            if self.play_audio:
                due = out.created + m["time"] + out.config.delay_s
                with self._lock:
                    self._commands.append(("audio", due, line.sample_rate, bytes(m.bulk[0]), (session_id, utterance), m["offset"]))
                    self._lock.notify()
        elif m.type == "end":
            with self._lock:
                out.cuts[utterance] = m["frames"]
                while len(out.cuts) > _CUTS_KEPT:
                    out.cuts.popitem(last=False)
                if self._thread is not None:
                    self._commands.append(("cut", (session_id, utterance), m["frames"], m["samples"], line.sample_rate or 1))
                    self._lock.notify()
            if self.takes_dir is not None and not line.idle and m["frames"]:
                self._write_take(out, utterance, line, m["frames"])
            out.lines.pop(utterance, None)

    def _write_take(self, out: _SessionOutputs, utterance: str, line: _Line, frames: int) -> None:
        from avbridge.takes.write import write_csv, write_timecoded_wav
        assert self.takes_dir is not None
        folder = self.takes_dir / out.id / utterance
        folder.mkdir(parents=True, exist_ok=True)
        rows = np.concatenate(line.frames)[:frames] if line.frames else np.zeros((0, 63), np.float32)
        track = Track.from_packed(line.fps, rows)
        stage_start = out.clock.stage_seconds(line.start)
        write_csv(folder / "track.csv", track, stage_start_s=stage_start)
        if line.audio:
            write_timecoded_wav(folder / "speech.wav", np.concatenate(line.audio), line.sample_rate, stage_start,
                                f"avbridge session {out.id} {utterance}")
        log.info("take written session=%s utterance=%s frames=%d folder=%s", out.id, utterance, len(track), folder)

    # -- the encoder thread and the sender process -------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            import subprocess
            import sys
            env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [_PACKAGE_ROOT, os.environ.get("PYTHONPATH")])))
            self._process = subprocess.Popen([sys.executable, "-m", "avbridge.server.udp_pacer"],
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
            self._thread = threading.Thread(target=self._run, name="avbridge-outputs", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._lock.notify()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        if self._process is not None:
            try:
                self._process.wait(timeout=2.0)
            except Exception:
                self._process.kill()
            for pipe in (self._process.stdin, self._process.stdout):
                pipe.close()

    def ready(self, timeout: float) -> bool:
        """Whether the sender process is running. It starts with the first output, in 0.03 to 0.07 s
        (docs/benchmarks.md "Outputs"); frames that fall due before are late, and dropped past
        udp_pacer.LATE_LIMIT_S."""
        return self._ready.wait(timeout)

    def stats(self) -> tuple[int, ...]:
        """(datagrams sent, frames dropped for lateness, send errors, frames that reached the sender
        already late, seconds of audio that came too late to play, audio device underruns) so far.
        The fourth says the server made or encoded frames late, not the sender."""
        with self._lock:
            self._commands.append(("stats",))
            self._lock.notify()
            self._stats_ready.clear()
        self._stats_ready.wait(timeout=2.0)
        return self._last_stats

    def _run(self) -> None:
        """Encode queued frames (oldest first) and hand them, with cuts and closed sessions, to the
        sender process in the order they came."""
        from avbridge.server.udp_pacer import read_message, write_message
        started = time.monotonic()
        if read_message(self._process.stdout) != ("ready",):
            raise RuntimeError("the UDP sender process did not start")
        log.info("outputs sender ready seconds=%.2f", time.monotonic() - started)
        if self.play_audio:
            write_message(self._process.stdin, ("audio_open", None if self.play_audio == "default" else self.play_audio))
            answer = read_message(self._process.stdout)
            if isinstance(answer, tuple) and answer[0] == "audio":
                self.audio_device = tuple(answer[1:])
                log.info("playing audio device=%s rate=%s latency_s=%.3f", *answer[1:])
            else:
                log.error("no audio playback: %s", answer[1] if isinstance(answer, tuple) else answer)
        self._ready.set()
        while True:
            with self._lock:
                while not (self._stopping or self._unencoded or self._commands):
                    self._lock.wait()
                if self._stopping:
                    write_message(self._process.stdin, ("stop",))
                    return
                items = list(self._unencoded)
                self._unencoded.clear()
                commands = list(self._commands)
                self._commands.clear()
            batch = []
            for item in items:
                key = (item.out.id, item.utterance)
                cut = item.out.cuts.get(item.utterance)
                if self.sessions.get(item.out.id) is item.out and (cut is None or item.index < cut):
                    datagrams = [(t.family, t.address, data) for t, data in self._datagrams(item)]
                    batch.append((item.due, key, item.index, datagrams))
            try:
                if batch:
                    write_message(self._process.stdin, ("frames", batch))
                for command in commands:
                    write_message(self._process.stdin, command)
                    if command[0] == "stats":
                        answer = read_message(self._process.stdout)
                        self._last_stats = tuple(answer[1:]) if isinstance(answer, tuple) else (0, 0, 0, 0, 0.0, 0)
                        self._stats_ready.set()
            except (BrokenPipeError, OSError):
                log.error("the UDP sender process has gone; Live Link and VMC output stops")
                return

    def _datagrams(self, item: _Pending) -> list[tuple[Target, bytes]]:
        out, row = item.out, item.row
        c = out.config
        session_time = item.due - out.created - c.delay_s
        datagrams: list[tuple[Target, bytes]] = []
        if c.livelink:
            frame, sub = out.clock.frame_time(session_time, out.fps)
            values = livelink.frame_values(row[None, :52], row[None, 52:59], row[None, 59:63])[0]
            rate = (int(round(out.fps)), 1)
            packet = livelink.LiveLinkPacket(DEVICE_ID, c.subject, frame, sub, rate, values).encode()
            datagrams += [(t, packet) for t in c.livelink]
        if c.vmc:
            bundle = vmc.frame_bundle(row, session_time, c.vmc_names)
            datagrams += [(t, bundle) for t in c.vmc]
        return datagrams
