"""Starting and pacing the production of a session's lines and its idle motion.

A `say` becomes a SayProducer (producers.py) when it reaches the head of its session's queue; a
producer far enough ahead of the clock is parked and restarted by the I/O thread when the clock
catches up, so a long monologue is not synthesised minutes ahead. Between lines, the I/O thread
checks each realtime session's idle stream and has the session's own task make more frames a
little past the lead. Split from service.py, which handles requests; this is what follows them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from avbridge.server.config import ServerConfig
from avbridge.server.producers import (
    Hooks,
    SayProducer,
    SpeechCache,
    due_in,
    produce_idle,
)
from avbridge.server.scheduler import LIGHT
from avbridge.server.session import Session, Utterance

log = logging.getLogger("avbridge.server")


class LineRunner:
    def __init__(self, config: ServerConfig, pool: Any, wake: Callable[[], None], live: Any,
                 emotion_of: Callable[[str], tuple[str, float]]) -> None:
        self.config = config
        self.pool = pool
        self._wake = wake
        self._live = live
        self.cache = SpeechCache(config.speech_cache_entries)
        self._parked: list[SayProducer] = []        # producers far enough ahead of the clock
        self._parked_lock = threading.Lock()
        self.hooks = Hooks(submit=pool.submit, park=self._park, line_done=self.start_next, wake=wake,
                           emotion_of=emotion_of)

    def start(self, session: Session, utt: Utterance) -> None:
        """Produce `utt` now (it is the session's active line)."""
        SayProducer(session, utt, self.cache, self.config.audio_message_s, self.hooks, self.config.lead_s).start()

    def start_next(self, session: Session) -> None:
        """Start the session's next queued line, if it has one and nothing is being produced."""
        with session.lock:
            if session.active is not None or not session.pending or session.closed:
                return
            utt = session.pending.popleft()
            session.active = utt
        self.start(session, utt)

    def _park(self, producer: SayProducer) -> None:
        session = producer.session
        if session.realtime and session.ahead_of_clock(producer.utt) > self.config.produce_ahead_s:
            with self._parked_lock:
                self._parked.append(producer)
        else:
            producer.start()

    def resume_parked(self) -> None:
        """Restart parked producers whose stream the clock has caught up with (I/O thread)."""
        with self._parked_lock:
            if not self._parked:
                return
            ready = [p for p in self._parked if p.utt.cancelled
                     or p.session.ahead_of_clock(p.utt) <= self.config.produce_ahead_s]
            self._parked = [p for p in self._parked if p not in ready]
        for producer in ready:
            producer.start()

    def feed_idle(self, session: Session) -> None:
        """While a realtime session says nothing, keep its idle stream produced a little past the
        lead. The I/O thread only checks; the session's own task makes the frames."""
        if session.live is not None:
            self._live.follow_avatar(session)
        if not (session.realtime and session.idle_enabled) or session.closed or session.idle_queued:
            return
        with session.lock:
            if session.on_air() is not None:
                return
            idle = session.idle
            produced_until = (idle.utterance.start + idle.utterance.frames / session.fps) if idle and idle.utterance.start is not None \
                else session.now()
            # A listening avatar reacts to the user: its frames are made just ahead of need, not a
            # second ahead, so a nod decided now is not queued behind frames already made.
            listening = session.live is not None
            horizon = session.now() + (self.config.playout_delay_s + 0.05 if listening else self.config.lead_s + 0.2)
            if produced_until >= horizon:
                return
            frames = int(np.ceil((horizon + (0.05 if listening else 0.3) - produced_until) * session.fps))
            session.idle_queued = True
        runway = produced_until - session.now() - (0 if listening else self.config.lead_s)
        self.pool.submit(lambda: self._produce_idle(session, frames), lane=LIGHT, deadline=due_in(session, runway),
                         key=session.id, name="idle")

    def _produce_idle(self, session: Session, frames: int) -> None:
        try:
            produce_idle(session, frames)
        except Exception:  # idle motion failing must not take the session down
            log.exception("idle motion failed session=%s", session.id)
        self._wake()
