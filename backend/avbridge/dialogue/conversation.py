"""A conversation's memory: the persona, then the last turns, as chat messages for a model.

The memory is bounded twice: at most `turns` exchanges (a user turn and the avatar's reply), and
at most `max_chars` of text in them, so a long conversation neither grows the prompt without end
nor slows the first token. Past either bound the older half goes at once (see `remember`). A reply cut off by the user is remembered as far
as it was written, marked as cut, so the model knows it did not finish.

Shapes: messages() -> [{"role": "system" | "user" | "assistant", "content": str}, ...]
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

DEFAULT_PERSONA = ("You are a friendly character in a game, talking out loud with the player. "
                   "Answer in one to three short spoken sentences. No lists, no markdown, no emoji.")
DEFAULT_TURNS = 8
MAX_PERSONA_CHARS = 4000


@dataclass
class Conversation:
    persona: str = DEFAULT_PERSONA
    turns: int = DEFAULT_TURNS
    max_chars: int = 6000
    _history: collections.deque = field(default_factory=collections.deque)

    def messages(self, user_text: str) -> list[dict[str, str]]:
        """The messages to send for a new user turn (not yet remembered)."""
        out = [{"role": "system", "content": self.persona}]
        for user, reply in self._history:
            out += [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]
        return out + [{"role": "user", "content": user_text}]

    def remember(self, user_text: str, reply: str, cut: bool = False) -> None:
        if self.turns == 0:
            return
        if cut:
            reply = (reply.strip() + " ... (interrupted)").strip()
        self._history.append((user_text, reply))
        if len(self._history) > self.turns or self._chars() > self.max_chars:
            # Forget the older half at once, not one exchange a turn: a model that keeps the
            # prompt it read last (llama.cpp does) then reads only the new turn, where dropping
            # the oldest exchange each turn changed the prompt's start and made it read all of
            # it again (first token 1.2 s instead of 0.45 s once memory was full).
            keep = max(1, min(self.turns, len(self._history)) // 2)
            while len(self._history) > keep:
                self._history.popleft()
            while len(self._history) > 1 and self._chars() > self.max_chars:
                self._history.popleft()

    def _chars(self) -> int:
        return sum(len(u) + len(r) for u, r in self._history)

    def __len__(self) -> int:
        return len(self._history)
