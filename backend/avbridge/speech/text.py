"""Text normalisation and chunking for speech synthesis.

`normalize` spells out what a voice would otherwise read wrongly or not at all (numbers, currency,
percentages, times, ordinals, common abbreviations, symbols) and tidies punctuation. `chunk` cuts a
paragraph into sentences, and long sentences into clauses, so the server can stream the first chunk
while the rest is still being synthesised. A clause keeps its trailing comma, which makes the voice
end it with a continuing rather than a final intonation.
"""

from __future__ import annotations

import re
import unicodedata

from num2words import num2words

ABBREVIATIONS = {
    "mr.": "mister", "mrs.": "missus", "ms.": "miz", "dr.": "doctor", "prof.": "professor",
    "st.": "saint", "sr.": "senior", "jr.": "junior", "vs.": "versus", "etc.": "et cetera",
    "e.g.": "for example", "i.e.": "that is", "approx.": "approximately", "dept.": "department",
    "no.": "number", "mt.": "mount", "capt.": "captain", "sgt.": "sergeant", "lt.": "lieutenant",
    "gen.": "general", "col.": "colonel", "ave.": "avenue", "blvd.": "boulevard",
}
_SYMBOLS = {"&": " and ", "+": " plus ", "@": " at ", "=": " equals ", "#": " number ",
            "°": " degrees ", "×": " times ", "/": " slash "}
_PUNCTUATION_MAP = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": ", ", "\u2014": ", ",
    "\u2026": "...", "\u00a0": " ",
})

_ABBREV_RE = re.compile(
    r"(?<![\w.])(" + "|".join(re.escape(a) for a in sorted(ABBREVIATIONS, key=len, reverse=True))
    + r")(?=\s|$)", re.IGNORECASE)
_CURRENCY_RE = re.compile(r"([$£€])\s?(\d[\d,]*)(?:\.(\d{1,2}))?")
_PERCENT_RE = re.compile(r"(-?\d[\d,]*(?:\.\d+)?)\s?%")
_TIME_RE = re.compile(r"\b(\d{1,2}):(\d{2})\b")
_ORDINAL_RE = re.compile(r"\b(\d+)(st|nd|rd|th)\b", re.IGNORECASE)
_YEAR_RE = re.compile(r"(?<![\d.,])(1[1-9]\d\d|20\d\d)(?![\d.,%])")
_NUMBER_RE = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?")
_CURRENCY_NAMES = {"$": ("dollar", "dollars", "cent", "cents"), "£": ("pound", "pounds", "penny", "pence"),
                   "€": ("euro", "euros", "cent", "cents")}


def _words(value: float | int, **kwargs) -> str:
    # num2words puts commas between groups ("one million, two hundred"); a comma would become a
    # clause pause in the voice.
    return num2words(value, lang="en", **kwargs).replace(",", "")


def _currency(match: re.Match) -> str:
    one, many, sub_one, sub_many = _CURRENCY_NAMES[match.group(1)]
    whole = int(match.group(2).replace(",", ""))
    spoken = f"{_words(whole)} {one if whole == 1 else many}"
    if match.group(3):
        cents = int(match.group(3).ljust(2, "0"))
        if cents:
            spoken += f" and {_words(cents)} {sub_one if cents == 1 else sub_many}"
    return spoken


def _number(match: re.Match) -> str:
    return _number_text(match.group(0))


def _number_text(written: str) -> str:
    text = written.replace(",", "")
    try:
        value = float(text) if "." in text else int(text)
    except ValueError:
        return written
    if isinstance(value, int) and abs(value) >= 10**15:
        return " ".join(_words(int(d)) for d in text.lstrip("-"))  # read long digit strings digit by digit
    return _words(value)


def _time(match: re.Match) -> str:
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours > 24 or minutes > 59:
        return match.group(0)
    if minutes == 0:
        return f"{_words(hours)} o'clock"
    if minutes < 10:
        return f"{_words(hours)} oh {_words(minutes)}"
    return f"{_words(hours)} {_words(minutes)}"


def normalize(text: str) -> str:
    """Spell out numbers, symbols and abbreviations; drop control characters; tidy whitespace."""
    text = unicodedata.normalize("NFKC", text).translate(_PUNCTUATION_MAP)
    text = "".join(c if unicodedata.category(c)[0] != "C" else " " for c in text)
    text = _ABBREV_RE.sub(lambda m: ABBREVIATIONS[m.group(1).lower()], text)
    text = _CURRENCY_RE.sub(_currency, text)
    text = _PERCENT_RE.sub(lambda m: _number_text(m.group(1)) + " percent", text)
    text = _TIME_RE.sub(_time, text)
    text = _ORDINAL_RE.sub(lambda m: _words(int(m.group(1)), to="ordinal"), text)
    text = _YEAR_RE.sub(lambda m: _words(int(m.group(1)), to="year"), text)
    text = _NUMBER_RE.sub(_number, text)
    for symbol, spoken in _SYMBOLS.items():
        text = text.replace(symbol, spoken)
    text = re.sub(r"\s+([,.!?;:])", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


_SENTENCE_END_RE = re.compile(r"(?<=[.!?])[\"')\]]*\s+")
_CLAUSE_END_RE = re.compile(r"(?<=[,;:])\s+")


def _split_long(piece: str, max_chars: int) -> list[str]:
    """Clauses of at most `max_chars`, breaking at , ; : first and at spaces as a last resort."""
    if len(piece) <= max_chars:
        return [piece]
    parts: list[str] = []
    current = ""
    for clause in _CLAUSE_END_RE.split(piece):
        if current and len(current) + 1 + len(clause) > max_chars:
            parts.append(current)
            current = clause
        else:
            current = f"{current} {clause}".strip()
    parts.append(current)
    out: list[str] = []
    for part in parts:
        while len(part) > max_chars:
            cut = part.rfind(" ", 0, max_chars)
            cut = cut if cut > 0 else max_chars
            out.append(part[:cut].strip())
            part = part[cut:].strip()
        if part:
            out.append(part)
    return out


def chunk(text: str, max_chars: int = 160, first_chunk_chars: int = 60, min_clause_chars: int = 12) -> list[str]:
    """Cut normalised text into speakable chunks: sentences, long ones into clauses.

    The first chunk is kept short (its first clause, when that clause has at least
    `min_clause_chars` characters) because its synthesis time is the user's wait for first audio.
    """
    sentences = [s.strip() for s in _SENTENCE_END_RE.split(text) if s.strip()]
    chunks: list[str] = []
    for sentence in sentences:
        chunks.extend(_split_long(sentence, max_chars))
    if chunks and len(chunks[0]) > first_chunk_chars:
        first = chunks[0]
        match = next((m for m in _CLAUSE_END_RE.finditer(first) if m.start() >= min_clause_chars), None)
        if match is not None and match.start() < len(first) - min_clause_chars:
            chunks[0:1] = [first[:match.start()], first[match.end():]]
    return [c for c in chunks if any(ch.isalnum() for ch in c)]
