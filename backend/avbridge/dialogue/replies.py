"""A reply streamed by a language model, cut into pieces to speak as soon as each is whole.

Sans-IO: `push(delta)` takes the text as it arrives and returns the pieces completed by it;
`finish()` returns what is left. The first piece of a reply ends at the first clause boundary
(a comma, semicolon, colon or dash after a few words), so its speech starts while the model is
still writing; later pieces are whole sentences, which the voice says with better intonation, and
a sentence is only cut at a clause once it runs long. A period after an abbreviation ("Dr.") or
between digits ("3.5") ends nothing.

Text a voice cannot say is dropped before it is cut: markdown emphasis and headings, code
backticks, emoji, and stage directions in asterisks or brackets ("*smiles*").
"""

from __future__ import annotations

import re
import unicodedata

from avbridge.speech.text import ABBREVIATIONS

FIRST_PIECE_MIN_WORDS = 3
LONG_SENTENCE_CHARS = 160

_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*(?=\s)")
_CLAUSE_END = re.compile(r"(?:[,;:]|\s[-\u2013\u2014])(?=\s)")
_STAGE_DIRECTION = re.compile(r"\*[^*\n]{1,60}\*|\[[^\]\n]{1,60}\]|\([^)\n]{0,40}(?:smile|laugh|sigh|nod|pause)[^)\n]{0,40}\)",
                              re.IGNORECASE)
_BOLD = re.compile(r"(\*\*|__)(.+?)\1")
_MARKDOWN = re.compile(r"(?m)^\s{0,3}(?:#{1,6}\s+|[-*+]\s+|\d+\.\s+|>\s*)|[*_`~]{1,3}")


def speakable(text: str) -> str:
    """`text` without what a voice should not read out (see the module's docstring)."""
    text = _BOLD.sub(r"\2", text)
    text = _STAGE_DIRECTION.sub(" ", text)
    text = _MARKDOWN.sub("", text)
    text = "".join(c for c in text if unicodedata.category(c) not in ("So", "Cs", "Co", "Cn"))
    return re.sub(r"\s+", " ", text).strip()


def _has_words(text: str) -> bool:
    return any(c.isalnum() for c in text)


class ReplyPieces:
    def __init__(self) -> None:
        self._buffer = ""
        self.pieces = 0                  # pieces returned so far
        self.text = ""                   # the whole reply so far, as the model wrote it

    def push(self, delta: str) -> list[str]:
        self.text += delta
        self._buffer += delta
        out: list[str] = []
        while True:
            cut = self._next_cut()
            if cut is None:
                return out
            piece, self._buffer = self._buffer[:cut], self._buffer[cut:]
            out += self._emit(piece)

    def drop_rest(self) -> None:
        """Forget text not yet cut into a piece (the reply is being cut short)."""
        self.text = self.text[:len(self.text) - len(self._buffer)]
        self._buffer = ""

    def finish(self) -> list[str]:
        piece, self._buffer = self._buffer, ""
        return self._emit(piece)

    def _emit(self, piece: str) -> list[str]:
        piece = speakable(piece)
        if not _has_words(piece):
            return []
        self.pieces += 1
        return [piece]

    def _next_cut(self) -> int | None:
        for match in _SENTENCE_END.finditer(self._buffer):
            if not self._abbreviation_before(match.start()):
                return match.end()
        long = len(self._buffer) > LONG_SENTENCE_CHARS
        if self.pieces == 0 or long:
            for match in _CLAUSE_END.finditer(self._buffer):
                words = len(self._buffer[:match.start()].split())
                if words >= FIRST_PIECE_MIN_WORDS or long:
                    return match.end()
        if len(self._buffer) > 2 * LONG_SENTENCE_CHARS:
            # No punctuation at all: cut at the last space before the limit rather than wait.
            space = self._buffer.rfind(" ", 0, LONG_SENTENCE_CHARS)
            return space if space > 0 else LONG_SENTENCE_CHARS
        return None

    def _abbreviation_before(self, dot: int) -> bool:
        words = self._buffer[:dot + 1].split()
        word = words[-1].lower() if words else ""
        return word in ABBREVIATIONS or bool(re.fullmatch(r"(?:[a-z]\.)+", word))
