"""A conversation's memory: the persona, then the last turns, as chat messages for a model.

The memory is bounded twice: at most `turns` exchanges (a user turn and the avatar's reply), and
at most `max_chars` of text in them, oldest dropped first, so a long conversation neither grows
the prompt without end nor slows the first token. A reply cut off by the user is remembered as far
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
        while len(self._history) > self.turns or \
                (len(self._history) > 1 and sum(len(u) + len(r) for u, r in self._history) > self.max_chars):
            self._history.popleft()

    def __len__(self) -> int:
        return len(self._history)
