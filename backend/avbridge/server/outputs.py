"""A session's frames out to Unreal (Live Link Face UDP) and VTuber apps (VMC), on the clock, with
stage timecode, and its lines recorded as timecoded take files.

The outputs see exactly what the session's client and the mirror see: every stream message, as it
leaves (Service.flush hands them here). Those leave up to `lead` seconds early (or at once, on an
unpaced session), and UDP receivers have no buffer, so one sender thread holds each frame until its
own time on the session clock (+ `delay_s`, the latency of wherever the audio plays) and sends it
then. An `end` cuts its utterance: frames past its `frames` count are never sent, so an interrupt
stops the face in Unreal where it stops in the engine.

Targets are `host:port`. A host that does not resolve, a port outside 1..65535, or a host off this
machine without `allow_remote` (UDP goes wherever it is told, unencrypted) is refused with a
sentence saying so (`OutputError`; the service answers it as `bad_field`). Whether anything
listens at a UDP target cannot be known from here: nothing answers a datagram.

Take files (with `takes_dir`): for each line of a session, DIR/<session>/<utterance>/speech.wav and
track.csv (Live Link Face layout, takes/write.py) whose timecodes are the stage times of the frames,
the same numbers the packets carry.
"""

from __future__ import annotations

import collections
import heapq
import ipaddress
import itertools
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from avbridge.adapters import livelink, vmc
from avbridge.adapters.timecode import StageClock, TimecodeError
from avbridge.core.track import Track
from avbridge.protocol import Message, ProtocolError, decode

log = logging.getLogger("avbridge.outputs")

LATE_LIMIT_S = 0.25
"""A frame whose time passed longer ago than this is dropped, not sent late: a receiver shows
frames as they come, so a burst of old ones would play as a fast-forward."""
DEVICE_ID = "avbridge"
_CUTS_KEPT = 256


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
    """An utterance as the outputs know it: its fps, where its frames stop, and (recording) its media."""
    fps: float
    idle: bool
    start: float = 0.0
    frames: list[np.ndarray] = field(default_factory=list)
    audio: list[np.ndarray] = field(default_factory=list)
    sample_rate: int = 0


class _SessionOutputs:
    def __init__(self, session_id: str, created: float, fps: float, config: OutputConfig, now: float) -> None:
        self.id = session_id
        self.created = created                  # monotonic time of session time 0
        self.fps = fps
        self.config = config
        self.clock = StageClock.from_wall_clock(now)
        self.lines: dict[str, _Line] = {}
        self.cuts: collections.OrderedDict[str, int] = collections.OrderedDict()   # ended utterances: their frame counts
        self.sent = 0
        self.dropped_late = 0


def outputs_from_config(config, clock: Callable[[], float]) -> Outputs:
    """The server's outputs from its ServerConfig; a bad default target raises OutputError (the
    command line prints it and stops)."""
    if config.vmc_names not in vmc.NAME_SETS:
        raise OutputError(f"vmc names {config.vmc_names!r} is not one of {', '.join(vmc.NAME_SETS)}")
    defaults = OutputConfig([parse_target(t, config.allow_remote_outputs, "livelink") for t in config.livelink],
                            config.livelink_subject, [parse_target(t, config.allow_remote_outputs, "vmc") for t in config.vmc],
                            config.vmc_names, config.output_delay_s)
    return Outputs(clock, config.allow_remote_outputs, config.takes_dir, defaults)


class Outputs:
    def __init__(self, clock: Callable[[], float] = time.monotonic, allow_remote: bool = False,
                 takes_dir: str | Path | None = None, defaults: OutputConfig | None = None) -> None:
        self.clock = clock
        self.allow_remote = allow_remote
        self.takes_dir = Path(takes_dir) if takes_dir else None
        self.defaults = defaults or OutputConfig()
        self.sessions: dict[str, _SessionOutputs] = {}
        self._queue: list[tuple[float, int, str, str, int, np.ndarray]] = []
        self._order = itertools.count()
        self._lock = threading.Condition()
        self._sockets: dict[int, socket.socket] = {}
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.send_errors = 0

    # -- sessions (from the service, on the I/O thread) ----------------------------------------
    def open(self, session_id: str, created: float, fps: float, now: float) -> None:
        if not (self.defaults.sends or self.takes_dir):
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
        fields = {k: m.fields[k] for k in ("livelink", "livelink_subject", "vmc", "vmc_names", "timecode") if k in m.fields}
        if not fields:
            return
        current = self.sessions.get(session_id)
        base = current.config if current else OutputConfig(subject=f"avbridge-{session_id}", delay_s=self.defaults.delay_s)
        try:
            livelink_targets = ([parse_target(t, self.allow_remote, "livelink") for t in fields["livelink"]]
                                if "livelink" in fields else base.livelink)
            vmc_targets = [parse_target(t, self.allow_remote, "vmc") for t in fields["vmc"]] if "vmc" in fields else base.vmc
            names = fields.get("vmc_names", base.vmc_names)
            if names not in vmc.NAME_SETS:
                raise OutputError(f"vmc_names {names!r} is not one of {', '.join(vmc.NAME_SETS)}")
            subject = fields.get("livelink_subject", base.subject)
            livelink.LiveLinkPacket(DEVICE_ID, subject, 0, 0.0, (1, 1), np.zeros(livelink.VALUE_COUNT)).encode()
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
            self.sessions.pop(session_id, None)

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
                        heapq.heappush(self._queue, (due, next(self._order), session_id, utterance, m["first"] + i, row))
                    self._lock.notify()
        elif m.type == "audio" and self.takes_dir is not None and not line.idle:
            line.audio.append(np.frombuffer(m.bulk[0], "<i2").copy())
        elif m.type == "end":
            with self._lock:
                out.cuts[utterance] = m["frames"]
                while len(out.cuts) > _CUTS_KEPT:
                    out.cuts.popitem(last=False)
            if self.takes_dir is not None and not line.idle and m["frames"]:
                self._write_take(out, utterance, line, m["frames"])
            out.lines.pop(utterance, None)

    def _write_take(self, out: _SessionOutputs, utterance: str, line: _Line, frames: int) -> None:
        from avbridge.core.audio import write_wav
        from avbridge.takes.write import write_csv
        assert self.takes_dir is not None
        folder = self.takes_dir / out.id / utterance
        folder.mkdir(parents=True, exist_ok=True)
        rows = np.concatenate(line.frames)[:frames] if line.frames else np.zeros((0, 63), np.float32)
        track = Track(line.fps, rows[:, :52].copy(), rows[:, 52:59].copy(), rows[:, 59:63].copy())
        write_csv(folder / "track.csv", track, stage_start_s=out.clock.stage_seconds(line.start))
        if line.audio:
            write_wav(folder / "speech.wav", np.concatenate(line.audio), line.sample_rate)
        log.info("take written session=%s utterance=%s frames=%d folder=%s", out.id, utterance, len(track), folder)

    # -- the sender thread ---------------------------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="avbridge-outputs", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._lock.notify()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        for s in self._sockets.values():
            s.close()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._stopping and (not self._queue or self._queue[0][0] > self.clock()):
                    wait = self._queue[0][0] - self.clock() if self._queue else None
                    self._lock.wait(timeout=wait)
                if self._stopping:
                    return
                due, _, session_id, utterance, index, row = heapq.heappop(self._queue)
                out = self.sessions.get(session_id)
                cut = out.cuts.get(utterance) if out else None
            if out is None or (cut is not None and index >= cut):
                continue
            if self.clock() - due > LATE_LIMIT_S:
                out.dropped_late += 1
                continue
            self._send(out, due - out.created - out.config.delay_s, row)

    def _send(self, out: _SessionOutputs, session_time: float, row: np.ndarray) -> None:
        c = out.config
        datagrams = []
        if c.livelink:
            frame, sub = out.clock.frame_time(session_time, out.fps)
            values = livelink.frame_values(row[None, :52], row[None, 52:59], row[None, 59:63])[0]
            rate = (int(round(out.fps)), 1)
            packet = livelink.LiveLinkPacket(DEVICE_ID, c.subject, frame, sub, rate, values).encode()
            datagrams += [(t, packet) for t in c.livelink]
        if c.vmc:
            bundle = vmc.frame_bundle(row, session_time, c.vmc_names)
            datagrams += [(t, bundle) for t in c.vmc]
        for target, data in datagrams:
            try:
                self._socket(target.family).sendto(data, target.address)
                out.sent += 1
            except OSError as e:         # a receiver that is not there yet: keep sending the others
                self.send_errors += 1
                if self.send_errors in (1, 100, 10_000):
                    log.warning("output send failed target=%s error=%s count=%d", target, e, self.send_errors)

    def _socket(self, family: int) -> socket.socket:
        s = self._sockets.get(family)
        if s is None:
            s = self._sockets[family] = socket.socket(family, socket.SOCK_DGRAM)
        return s
