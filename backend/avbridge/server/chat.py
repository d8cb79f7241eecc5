"""Chat sessions in the server: the user's turn goes to a language model, its reply is spoken as it
is written (SPEC 8.9).

A chat session is a listening session (server/live.py) whose user turns are answered:

    final transcript of a turn, or user_text  ->  user_turn
        the avatar looks thinking; the persona, the memory and the turn go to the model
        (dialogue/models.py) on a thread of the reply's own
    each piece of text as the model writes it ->  a `reply` event (final false), and every piece
        of it that is whole (dialogue/replies.py) is queued as a line, as `say` would: the first
        words are spoken while the rest is being written, each sentence with its own emotion
    the model done                            ->  `reply` final true with the whole reply;
        the exchange is remembered (dialogue/conversation.py)
    the model failing (unreachable, refusing, silent past llm_timeout_s, an empty reply)
                                              ->  `reply_error` with a sentence; the avatar stops
        thinking and listens again
    barge-in, a new turn, close               ->  the generation is cancelled (within a token) and
        the reply's lines not yet said are dropped

Every change to the session happens in its own light tasks, in order, as for live input; the
thread only reads the model's stream and hands each piece over.
"""

from __future__ import annotations

import collections
import copy
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from avbridge.dialogue.conversation import Conversation
from avbridge.dialogue.models import ChatModel, ModelError, load_chat_model
from avbridge.dialogue.replies import ReplyPieces
from avbridge.server.config import ServerConfig
from avbridge.server.scheduler import LIGHT
from avbridge.server.session import Session, Utterance

log = logging.getLogger("avbridge.chat")


@dataclass
class Reply:
    turn: int
    user_text: str
    started: float                                   # session time the turn was handed over
    cancelled: threading.Event = field(default_factory=threading.Event)
    pieces: ReplyPieces = field(default_factory=ReplyPieces)
    lines: list[Utterance] = field(default_factory=list)
    first_delta_at: float | None = None              # session time the model's first text came (its thread)
    first_text_at: float | None = None               # session time the session took it in
    done: bool = False
    error: str | None = None

    @property
    def spoken(self) -> bool:
        return any(u.start is not None for u in self.lines)


@dataclass
class ChatState:
    conversation: Conversation
    turns: int = 0
    reply: Reply | None = None
    carried: str = ""         # a turn the user went on with before its reply was said
    timings: collections.deque = field(default_factory=lambda: collections.deque(maxlen=100))   # the last replies', for logs and tests


class ChatRunner:
    def __init__(self, config: ServerConfig, pool: Any, wake: Callable[[], None],
                 queue_line: Callable[..., Utterance], event: Callable[..., None],
                 thinking: Callable[[Session, bool], None], emotion_auto: bool) -> None:
        self.config = config
        self._pool = pool
        self._wake = wake
        self._queue_line = queue_line       # (session, text, re, params) -> the queued line
        self._emotion_auto = emotion_auto   # each sentence's emotion from its text (the emotion extra)
        self._event = event                 # LiveRunner.event(session, name, at, **fields)
        self._thinking = thinking           # the turn-taking thinking look, on or off
        self._model: ChatModel | None = None
        self._model_lock = threading.Lock()
        self._warm = threading.Event()      # set once the warming request is over (or none runs)
        self._warm.set()
        self._warming_started = False

    def model(self) -> ChatModel:
        """The model, loaded on first use (the local one takes about 0.2 s); raises ModelError."""
        with self._model_lock:
            if self._model is None:
                c = self.config
                self._model = load_chat_model(c.llm, c.llm_model, c.llm_timeout_s, c.llm_threads)
                log.info("chat model ready model=%s", self._model.name)
            return self._model

    def prewarm(self) -> None:
        """Called by the first chat session's open (a server nobody chats with loads nothing:
        the models take about 500 MB), or at start by `avbridge web`, which serves only chat."""
        if self._warming_started:
            return
        self._warming_started = True
        self._prewarm()

    def _prewarm(self) -> None:
        """Load the model and ask it for a token, and load the sentence-emotion model the first
        line would otherwise wait about 3 s for, off the I/O thread."""
        def load() -> None:
            try:
                # One token through the whole path: the first request pays for imports, the
                # connection and the model's own first pass (2.5 s of a first turn's wait, measured).
                for _ in self.model().stream([{"role": "user", "content": "Hi"}], 1, threading.Event()):
                    pass
            except Exception:
                log.exception("loading the chat model failed")
            finally:
                self._warm.set()
            try:
                if self._emotion_auto:
                    from avbridge.motion import text_emotion
                    text_emotion.shared().infer("Hello there.")
            except Exception:
                log.exception("loading the emotion model failed")
        self._warm.clear()
        threading.Thread(target=load, name="avbridge-chat-prewarm", daemon=True).start()

    def open(self, session: Session, persona: str | None, memory: int | None) -> None:
        self.prewarm()
        conversation = Conversation()
        if persona:
            conversation.persona = persona
        if memory is not None:
            conversation.turns = memory
        session.chat = ChatState(conversation)

    def _task(self, session: Session, fn: Callable[[], None], name: str) -> None:
        self._pool.submit(fn, lane=LIGHT, deadline=session.clock(), key=session.id, name=name)

    # -- turns (session tasks) ------------------------------------------------------------------
    def user_text(self, session: Session, text: str) -> None:
        """A typed turn (I/O thread): it is answered in the session's own order."""
        self._task(session, lambda: self.user_turn(session, text, typed=True), "chat-turn")

    def user_turn(self, session: Session, text: str, typed: bool = False) -> None:
        chat: ChatState = session.chat
        if session.closed:
            return
        if chat.reply is not None:
            self.cancel(session, "a new turn")     # still written, or still being said
        if typed:
            # After the cancel: an event queued on a line that is then cut goes with it.
            self._event(session, "transcript", session.now(), text=text, final=True)
        if chat.carried:
            text, chat.carried = f"{chat.carried} {text}", ""
        chat.turns += 1
        reply = chat.reply = Reply(chat.turns, text, session.now())
        self._thinking(session, True)
        messages = chat.conversation.messages(text)
        threading.Thread(target=self._generate, args=(session, reply, messages),
                         name=f"avbridge-chat-{session.id}", daemon=True).start()

    def user_started(self, session: Session) -> None:
        """The user spoke again: a reply not yet heard is dropped, and its turn is carried into the
        next (they had not finished)."""
        chat: ChatState = session.chat
        reply = chat.reply
        if reply is not None and not reply.done and not reply.spoken:
            chat.carried = reply.user_text
            self.cancel(session, "the user went on")

    def cancel(self, session: Session, why: str) -> None:
        """Stop the reply in progress: the model's stream and the lines not yet said (a barge-in
        has cut the one being said already). A reply written and heard whole is left alone."""
        chat: ChatState | None = session.chat
        reply = chat.reply if chat is not None else None
        if reply is None:
            return
        reply.cancelled.set()
        stopped = []
        for utt in reply.lines:
            if not utt.cancelled:          # lines done and heard already are left alone by interrupt
                stopped += session.interrupt(utt.id, reason=f"chat reply cancelled: {why}", queue_ends=True)
        if not reply.done:
            reply.done = True
            self._remember(session, reply, cut=True)
            self._event(session, "reply", session.now(), text=reply.pieces.text, final=True)
        elif not stopped:
            return
        log.info("chat reply cancelled session=%s turn=%d why=%s lines=%d", session.id, reply.turn, why, len(stopped))

    def close(self, session: Session) -> None:
        """The session is closing: its reply's thread stops within a token (its lines go with the
        session's own interrupt)."""
        if session.chat.reply is not None:
            session.chat.reply.cancelled.set()

    # -- the model's thread -----------------------------------------------------------------------
    def _generate(self, session: Session, reply: Reply, messages: list[dict[str, str]]) -> None:
        deadline = time.monotonic() + self.config.llm_max_reply_s
        error: str | None = None
        # Not beside the warming request: an endpoint may cut one request for the next
        # (llama-cpp-python's server does by default), and a first turn came back empty.
        self._warm.wait(self.config.llm_timeout_s)
        try:
            stream = self.model().stream(messages, self.config.llm_max_tokens, reply.cancelled)
            for delta in stream:
                if reply.first_delta_at is None:
                    reply.first_delta_at = session.now()
                self._task(session, lambda d=delta: self._on_text(session, reply, d), "chat-text")  # type: ignore[misc]
                if time.monotonic() > deadline:
                    log.warning("chat reply cut at llm_max_reply_s session=%s turn=%d", session.id, reply.turn)
                    reply.cancelled.set()
                    break
        except ModelError as exc:
            error = str(exc)
        except Exception as exc:            # a model failing must not take the server down
            log.exception("chat model failed session=%s", session.id)
            error = f"the model failed: {exc.__class__.__name__}: {exc}"
        self._task(session, lambda: self._on_done(session, reply, error), "chat-done")

    # -- back in the session's tasks --------------------------------------------------------------
    def _on_text(self, session: Session, reply: Reply, delta: str) -> None:
        if reply.done or session.closed or session.chat.reply is not reply:
            return
        if reply.pieces.pieces >= self.config.llm_max_pieces:
            return        # text the model wrote before it saw the cut: not said, not reported
        if reply.first_text_at is None:
            reply.first_text_at = session.now()
        self._event(session, "reply", session.now(), text=delta, final=False)
        for piece in reply.pieces.push(delta):
            self._say(session, reply, piece)
        if reply.pieces.pieces >= self.config.llm_max_pieces and not reply.cancelled.is_set():
            # A small model runs on; a spoken answer should not. What is said so far stands.
            log.info("chat reply cut at llm_max_pieces session=%s turn=%d", session.id, reply.turn)
            reply.cancelled.set()
            reply.pieces.drop_rest()
        self._wake()

    def _on_done(self, session: Session, reply: Reply, error: str | None) -> None:
        if reply.done or session.closed:
            return
        reply.done = True
        if error is None:
            for piece in reply.pieces.finish():
                self._say(session, reply, piece)
            if not reply.lines:
                error = "the model gave an empty reply" if not reply.pieces.text.strip() else \
                    f"the model's reply has nothing to say aloud: {reply.pieces.text[:80]!r}"
        if error is not None:
            reply.error = error
            log.warning("chat reply failed session=%s turn=%d: %s", session.id, reply.turn, error)
            self._event(session, "reply_error", session.now(), text=error)
            self._thinking(session, False)
        else:
            self._event(session, "reply", session.now(), text=reply.pieces.text, final=True)
        self._remember(session, reply, cut=reply.cancelled.is_set())
        log.info("chat reply session=%s turn=%d first_text_after_s=%s (from the model %s) pieces=%d chars=%d error=%s",
                 session.id, reply.turn,
                 f"{reply.first_text_at - reply.started:.3f}" if reply.first_text_at is not None else None,
                 f"{reply.first_delta_at - reply.started:.3f}" if reply.first_delta_at is not None else None,
                 reply.pieces.pieces, len(reply.pieces.text), error)
        session.chat.timings.append({"turn": reply.turn, "handed": reply.started, "first_text": reply.first_text_at,
                                     "first_line": reply.lines[0].id if reply.lines else None, "error": error})
        self._wake()

    def _say(self, session: Session, reply: Reply, piece: str) -> None:
        try:
            params = session.params
            if self._emotion_auto and params.emotion == "neutral" and not params.infer_emotion:
                params = copy.copy(params)
                params.infer_emotion = True
            reply.lines.append(self._queue_line(session, piece, 0, params))
        except Exception as exc:          # the queue is full, the text too long: say why, go on
            log.warning("chat piece not spoken session=%s: %s", session.id, exc)

    def _remember(self, session: Session, reply: Reply, cut: bool) -> None:
        if reply.error is None and reply.pieces.text.strip():
            session.chat.conversation.remember(reply.user_text, reply.pieces.text, cut=cut)
