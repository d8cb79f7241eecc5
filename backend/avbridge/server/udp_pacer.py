"""A process of its own that sends datagrams at their due times (server/outputs.py feeds it).

Why a process and not a thread: inside the server, a thread that wakes for a due frame must first
get the interpreter lock, and the workers making speech and motion hold it for milliseconds at a
time; a sender thread was 6 to 8 ms late at p99 with eight avatars speaking on two cores, against
about 1 ms for a bare sleep loop (docs/benchmarks.md "Outputs"). This process has its own
interpreter and does nothing but wait and send. Monotonic time is one clock for every process on a
machine, so due times cross the pipe unchanged.

Started as `python -m avbridge.server.udp_pacer` with pipes on stdin and stdout, not through
multiprocessing: a spawned multiprocessing child re-imports the parent's main module, which fails
in any script that embeds the server without an `if __name__ == "__main__"` guard. Standard
library only (numpy and sounddevice only once audio is played), so it starts in a fraction of a
second.

Messages are length-prefixed pickles (uint32 big-endian length), from the server only. It says
("ready",) once started; commands (tuples):
    ("frames", [(due, key, index, [(family, address, bytes), ...]), ...])   queue them
    ("cut", key, frames, samples, rate)   drop frames of `key` (session, utterance) at index >= frames,
                             and its audio from sample `samples` (at `rate`) on
    ("drop", session)        drop everything of a closed session
    ("audio_open", device)   play audio on a local output device (server/device_audio.py); answers
                             ("audio", device name, rate, latency s) or ("audio_error", sentence)
    ("audio", start, rate, pcm bytes, key, offset)   int16 samples to be heard from `start` on
    ("stats",)               answer ("stats", datagrams sent, frames dropped late, send errors,
                             frames that came already more than 1 ms past due, seconds of audio
                             that came too late to play, device underruns)
    ("stop",)                exit (as does the end of stdin: the server has gone)
"""

from __future__ import annotations

import heapq
import itertools
import os
import pickle
import queue
import socket
import struct
import sys
import threading
import time
from typing import BinaryIO

LATE_LIMIT_S = 0.25          # older than this when it comes up: dropped (a burst would fast-forward)
EARLY_S = 0.0002             # due within this long: sent now
_SLEEP_GRAIN_S = 0.002       # the last stretch before a due time is a plain sleep


def write_message(stream: BinaryIO, message: object) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack(">I", len(data)) + data)
    stream.flush()


def read_message(stream: BinaryIO) -> object | None:
    """The next message, or None at the end of the stream."""
    head = stream.read(4)
    if len(head) < 4:
        return None
    (length,) = struct.unpack(">I", head)
    return pickle.loads(stream.read(length))


def run(incoming: BinaryIO, outgoing: BinaryIO) -> None:
    commands: queue.SimpleQueue = queue.SimpleQueue()

    def reader() -> None:
        while True:
            message = read_message(incoming)
            commands.put(message if message is not None else ("stop",))
            if message is None:
                return

    threading.Thread(target=reader, daemon=True).start()
    write_message(outgoing, ("ready",))
    pending: list = []
    order = itertools.count()
    cuts: dict = {}
    dropped: set = set()
    sockets: dict[int, socket.socket] = {}
    player = None
    sent = late = errors = arrived_late = 0
    while True:
        now = time.monotonic()
        while pending and pending[0][0] <= now + EARLY_S:
            due, _, key, index, datagrams = heapq.heappop(pending)
            if key[0] in dropped or index >= cuts.get(key, index + 1):
                continue
            if now - due > LATE_LIMIT_S:
                late += 1
                continue
            for family, address, data in datagrams:
                s = sockets.get(family) or sockets.setdefault(family, socket.socket(family, socket.SOCK_DGRAM))
                try:
                    s.sendto(data, address)
                    sent += 1
                except OSError:
                    errors += 1
            now = time.monotonic()
        wait = pending[0][0] - time.monotonic() if pending else None
        if wait is not None and wait < _SLEEP_GRAIN_S:
            time.sleep(max(0.0, wait))
            continue
        try:
            command = commands.get(timeout=None if wait is None else wait - _SLEEP_GRAIN_S)
        except queue.Empty:
            continue
        kind = command[0]
        if kind == "frames":
            arrived = time.monotonic()
            for due, key, index, datagrams in command[1]:
                heapq.heappush(pending, (due, next(order), key, index, datagrams))
                arrived_late += due < arrived - 0.001
        elif kind == "cut":
            cuts[command[1]] = command[2]
            if player is not None:
                player.cut(command[1], command[3], command[4])
            if len(cuts) > 4096:
                for stale in list(cuts)[:2048]:
                    del cuts[stale]
        elif kind == "drop":
            dropped.add(command[1])
            if player is not None:
                player.drop(command[1])
        elif kind == "audio" and player is not None:
            _, start, rate, data, key, offset = command
            player.add(start, rate, _int16(data), key, offset)
        elif kind == "audio_open":
            try:
                from avbridge.server.device_audio import DevicePlayer
                player = DevicePlayer(command[1])
                write_message(outgoing, ("audio", player.name, player.rate, player.latency_s))
            except Exception as e:       # no device, no PortAudio, no sounddevice: say which
                write_message(outgoing, ("audio_error", f"{type(e).__name__}: {e}"))
        elif kind == "stats":
            audio = (player.late_samples / player.rate, player.underruns) if player is not None else (0.0, 0)
            write_message(outgoing, ("stats", sent, late, errors, arrived_late, *audio))
        elif kind == "stop":
            for s in sockets.values():
                s.close()
            if player is not None:
                player.close()
            return


def _int16(data: bytes):
    import numpy as np
    return np.frombuffer(data, "<i2")


if __name__ == "__main__":
    run(sys.stdin.buffer, sys.stdout.buffer)
    # Not a normal exit: the reader thread may be inside a read of stdin, and the interpreter's
    # shutdown would wait on that read's lock.
    os._exit(0)
