"""Turn-taking: the avatar's conversational state and the barge-in policy.

    idle       nobody is talking
    listening  the user is talking (the listening layer is on)
    thinking   the user has finished and the reply is being worked out (engine `set thinking`, or
               automatically after a user turn when `think_after_turn`), until the avatar speaks
    speaking   the avatar is saying a line

Barge-in: when the user starts talking over the avatar, the policy decides:
    never      the avatar finishes its line (the engine is still told the user spoke)
    always     it stops at once
    after      it stops once the user has kept talking for `after_ms` (coughs and "mm-hm"s do not
               cut it off)

Sans-IO: methods take times (seconds on the session clock) and return what happened as
(event name, fields) pairs; the caller sends them and acts on "barge_in" by interrupting.
"""

from __future__ import annotations

from dataclasses import dataclass

STATES = ("idle", "listening", "thinking", "speaking")
BARGE_IN_POLICIES = ("never", "always", "after")

Event = tuple[str, dict]


@dataclass
class TurnTaking:
    policy: str = "always"
    after_ms: int = 300
    think_after_turn: bool = True
    state: str = "idle"
    user_speaking: bool = False
    user_started: float | None = None
    _barged: bool = False

    def __post_init__(self) -> None:
        if self.policy not in BARGE_IN_POLICIES:
            raise ValueError(f"barge-in policy {self.policy!r}; expected one of {', '.join(BARGE_IN_POLICIES)}")

    def _to(self, state: str) -> list[Event]:
        if state == self.state:
            return []
        self.state = state
        return [("state", {"text": state})]

    def user_start(self, t: float) -> list[Event]:
        self.user_speaking, self.user_started, self._barged = True, t, False
        events: list[Event] = [("user_speech_start", {})]
        if self.state == "speaking":
            return events + self.tick(t)
        return events + self._to("listening")

    def tick(self, t: float) -> list[Event]:
        """Call as user audio arrives while the avatar speaks: barge-in once the policy says so."""
        if self.state != "speaking" or not self.user_speaking or self._barged or self.user_started is None:
            return []
        if self.policy == "never":
            return []
        if self.policy == "after" and (t - self.user_started) * 1000 < self.after_ms:
            return []
        self._barged = True
        return [("barge_in", {})] + self._to("listening")

    def user_end(self, t: float) -> list[Event]:
        self.user_speaking = False
        events: list[Event] = [("user_speech_end", {})]
        if self.state == "listening":
            events += self._to("thinking" if self.think_after_turn else "idle")
        return events

    def thinking(self, on: bool) -> list[Event]:
        if on and self.state in ("idle", "listening"):
            return self._to("thinking")
        if not on and self.state == "thinking":
            return self._to("listening" if self.user_speaking else "idle")
        return []

    def avatar_start(self) -> list[Event]:
        self._barged = False
        return self._to("speaking")

    def avatar_end(self) -> list[Event]:
        if self.state != "speaking":
            return []
        return self._to("listening" if self.user_speaking else "idle")
