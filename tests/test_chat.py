"""Chat sessions against a real model endpoint: llama.cpp's OpenAI-compatible server in its own
process, serving the bundled SmolLM2-135M-Instruct on a loopback port (dialogue/local_endpoint.py).
A recorded spoken question goes in through user_audio, a typed one through user_text; the reply is
checked as a client sees it: transcript, thinking, reply text, lines spoken with audio. Faults: the
user barging in, the endpoint killed, unreachable, silent, empty, endless.

The misbehaving endpoints at the end are small HTTP servers that speak the OpenAI streaming format
badly on purpose: a real socket and a real client library on our side, the failure on theirs."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from avbridge.client import Client, ServerError
from avbridge.core.audio import read_wav_mono
from avbridge.dialogue.conversation import Conversation
from avbridge.dialogue.replies import ReplyPieces, speakable
from conftest import make_server

DATA = Path(__file__).parent / "data"
pytest.importorskip("llama_cpp")


# -- replies and memory (sans-IO) -----------------------------------------------------------------
def test_the_first_piece_ends_at_a_clause_and_later_ones_at_sentences():
    pieces = ReplyPieces()
    out = []
    for token in ["Well,", "my", "friend,", "that", "is", "a", "fine", "question.", "The", "best", "month", "is", "May,", "because", "it", "is", "warm.", "Bye"]:
        out += pieces.push(token + " ")
    out += pieces.finish()
    assert out == ["Well, my friend,", "that is a fine question.", "The best month is May, because it is warm.", "Bye"]


def test_abbreviations_decimals_and_markup_do_not_cut_or_get_spoken():
    pieces = ReplyPieces()
    out = pieces.push("Dr. Smith measured 3.5 metres **exactly** today. ") + pieces.finish()
    assert out == ["Dr. Smith measured 3.5 metres exactly today."]
    assert speakable("*smiles* Hello 😀 there! [laughs]") == "Hello there!"
    assert ReplyPieces().push("😀 *waves* ") == [] and ReplyPieces().finish() == []


def test_a_reply_without_punctuation_is_still_cut():
    pieces = ReplyPieces()
    out = []
    for _ in range(200):
        out += pieces.push("la ")
    assert out and all(len(p) <= 2 * 160 for p in out)


def test_memory_keeps_the_persona_and_the_last_turns_within_bounds():
    conversation = Conversation(persona="You are Ada.", turns=4, max_chars=200)
    for i in range(5):
        conversation.remember(f"question {i}", f"answer {i}")
    messages = conversation.messages("question 5")
    assert messages[0] == {"role": "system", "content": "You are Ada."}
    # Past 4 exchanges the older half went at once: the prompt's start then stays put for turns.
    assert [m["content"] for m in messages[1:]] == ["question 3", "answer 3", "question 4", "answer 4", "question 5"]
    conversation.remember("question 5", "answer 5")
    assert len(conversation) == 3
    conversation.remember("long", "x" * 500)
    assert len(conversation) == 1
    conversation.remember("cut", "I was saying", cut=True)
    assert conversation.messages("next")[-2]["content"].endswith("(interrupted)")


# -- against a real endpoint ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def endpoint():
    from avbridge.dialogue.local_endpoint import LocalEndpoint
    with LocalEndpoint() as e:
        yield e


@pytest.fixture(scope="module")
def chat_server(endpoint):
    server = make_server(voice="espeak", llm=endpoint.url, llm_timeout_s=10)
    yield server
    server.stop()


def question_audio() -> np.ndarray:
    pcm, rate = read_wav_mono(DATA / "speechocean_question.wav")
    assert rate == 16000
    return pcm


def send_paced(session, pcm: np.ndarray, piece: int = 320, speed: float = 1.0) -> None:
    t0 = time.monotonic()
    for i in range(0, len(pcm), piece):
        session.user_audio(pcm[i:i + piece], 16000)
        time.sleep(max(0.0, t0 + (i + piece) / 16000 / speed - time.monotonic()))


def watch(session, seconds: float, until=None) -> list:
    """Messages for the session for up to `seconds`, stopping early once `until(messages)` holds."""
    got: list = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got += [m for m, _ in session.received(0.2)]
        if until is not None and until(got):
            break
    return got


def events(messages, name: str | None = None) -> list:
    return [m for m in messages if m.type == "event" and (name is None or m["name"] == name)]


def reply_done(messages) -> bool:
    final = [m for m in events(messages, "reply") if m.get("final")]
    lines = {m["utterance"] for m in messages if m.type == "stream" and not m.get("idle") and m.get("text")}
    ended = {m["utterance"] for m in messages if m.type == "end"}
    return bool(final) and bool(lines) and lines <= ended or bool(events(messages, "reply_error"))


def test_a_typed_question_is_answered_aloud_as_it_is_written(chat_server):
    with Client(chat_server.endpoint, timeout=20) as client:
        session = client.open(live="chat", persona="You are Ada, a cheerful guide. Answer in three sentences.")
        session.user_text("What is the best month of the year, and why?")
        got = watch(session, 40, reply_done)
    transcript = events(got, "transcript")
    assert transcript[0]["text"] == "What is the best month of the year, and why?" and transcript[0]["final"]
    states = [m["text"] for m in events(got, "state")]
    assert states[0] == "thinking" and "speaking" in states, states
    deltas = [m["text"] for m in events(got, "reply") if not m.get("final")]
    final = [m["text"] for m in events(got, "reply") if m.get("final")]
    assert len(deltas) > 3 and final and "".join(deltas) == final[0]
    lines = [m for m in got if m.type == "stream" and m.get("text")]
    assert lines, "no line was spoken"
    if len(lines) >= 3:
        # Its first line is spoken as soon as its piece is whole, while the model still writes.
        final_at = next(m["time"] for m in got if m.type == "event" and m["name"] == "reply" and m.get("final"))
        assert lines[0]["time"] < final_at, (lines[0]["time"], final_at)
    for line in lines:
        assert line["text"] in final[0].replace("\n", " ") or line["text"].rstrip(".!?,") in final[0]
        audio = [m for m in got if m.type == "audio" and m["utterance"] == line["utterance"]]
        ends = [m for m in got if m.type == "end" and m["utterance"] == line["utterance"]]
        assert audio and ends[0]["status"] == "done"
    assert not events(got, "reply_error")


def test_a_spoken_question_is_transcribed_then_answered(chat_server):
    with Client(chat_server.endpoint, timeout=20) as client:
        session = client.open(live="chat", memory=4)
        send_paced(session, np.concatenate([np.zeros(8000, np.int16), question_audio(), np.zeros(16000, np.int16)]))
        got = watch(session, 40, reply_done)
        chat = chat_server.service.sessions[session.id].chat
    names = [m["name"] for m in events(got)]
    assert "user_speech_end" in names, [(m["utterance"], m["name"], m.get("text"), round(m["time"], 2)) for m in events(got)][:12]
    assert names.index("user_speech_start") < names.index("user_speech_end") < names.index("reply")
    final = [m["text"] for m in events(got, "transcript") if m["final"]]
    assert final and "best" in final[0].lower() and "year" in final[0].lower(), final
    assert [m for m in got if m.type == "stream" and m.get("text")], "no line was spoken"
    assert len(chat.conversation) == 1 and chat.timings[0]["error"] is None


def test_the_conversation_is_remembered_across_turns(chat_server):
    with Client(chat_server.endpoint, timeout=20) as client:
        session = client.open(live="chat", memory=2)
        for text in ("My name is Robin.", "What did I say my name was?", "Thanks."):
            session.user_text(text)
            watch(session, 40, reply_done)
        conversation = chat_server.service.sessions[session.id].chat.conversation
        sent = conversation.messages("next")
    assert len(conversation) == 1        # the third exchange went past 2: the older half went
    assert [m["content"] for m in sent if m["role"] == "user"] == ["Thanks.", "next"]


def test_barge_in_stops_the_speech_and_the_generation(chat_server):
    with Client(chat_server.endpoint, timeout=20) as client:
        session = client.open(live="chat", barge_in="always")
        send_paced(session, np.zeros(3200, np.int16))
        session.user_text("Tell me a long story about a dragon and a knight, with many details.")
        got = watch(session, 30, lambda ms: any(m.type == "audio" for m in ms))
        assert any(m.type == "audio" for m in got), "the reply never started"
        send_paced(session, question_audio()[:int(1.5 * 16000)])
        got += watch(session, 3)
        chat = chat_server.service.sessions[session.id].chat
        first = chat.reply if chat.turns == 1 else None
    assert events(got, "barge_in")
    ends = [m for m in got if m.type == "end" and not m["utterance"].startswith("idle")]
    interrupted = [m for m in ends if m["status"] == "interrupted"]
    assert interrupted and all("barge-in" in m.get("reason", "") or "cancelled" in m.get("reason", "") for m in interrupted)
    cut = [m for m in events(got, "reply") if m.get("final")]
    assert cut, " ".join(f'{m["utterance"]}:{m["name"]}:{m.get("text") if m["name"] != "reply" else ""}'
                         for m in events(got) if m["name"] not in ("word", "phoneme"))[-1500:]
    # Nothing of the first reply plays after the cut: a line sent ahead of it ends interrupted.
    cut_at = min(m["time"] for m in interrupted)
    status = {m["utterance"]: m["status"] for m in ends}
    later = [m for m in got if m.type == "stream" and m.get("text") and m["time"] > cut_at + 0.05
             and m["utterance"] in {u.id for u in (first.lines if first else [])}]
    assert all(status.get(m["utterance"]) == "interrupted" for m in later), [(m["text"], status.get(m["utterance"])) for m in later]
    if first is not None:
        assert first.cancelled.is_set() and first.done


def test_bad_chat_requests_are_refused_with_a_reason(chat_server):
    with Client(chat_server.endpoint, timeout=20) as client:
        plain = client.open()
        with pytest.raises(ServerError, match="not a chat session"):
            plain.user_text("hello")
        with pytest.raises(ServerError, match="persona and memory belong to chat sessions"):
            client.open(persona="You are Ada.")
        session = client.open(live="chat")
        with pytest.raises(ServerError, match="empty_text"):
            session.user_text("  ?! ")
        with pytest.raises(ServerError, match="text_too_long"):
            session.user_text("a" * 20_000)
        with pytest.raises(ServerError, match="bad_field"):
            client.open(live="chat", memory=500)
        session.user_text("Still there?")
        assert reply_done(watch(session, 40, reply_done))


# -- the model failing ----------------------------------------------------------------------------
def fail_and_recover(server, expect: str, timeout: float = 30) -> None:
    with Client(server.endpoint, timeout=20) as client:
        session = client.open(live="chat")
        t0 = time.monotonic()
        session.user_text("Hello?")
        got = watch(session, timeout, lambda ms: bool(events(ms, "reply_error")))
        errors = events(got, "reply_error")
        assert errors and expect in errors[0]["text"], [m["text"] for m in errors]
        assert time.monotonic() - t0 < timeout
        got += watch(session, 1.0)
        states = [m["text"] for m in events(got, "state")]
        assert states[0] == "thinking" and states[-1] != "thinking", states
        # The session goes on: the next turn is taken (and fails the same way), nothing else breaks.
        session.user_text("Hello again?")
        assert events(watch(session, timeout, lambda ms: bool(events(ms, "reply_error"))), "reply_error")
        assert session.say("Sorry, I cannot think right now.").pcm.size > 0


def test_an_endpoint_killed_mid_conversation_ends_the_turn_with_an_error():
    from avbridge.dialogue.local_endpoint import LocalEndpoint
    endpoint = LocalEndpoint()
    server = make_server(voice="espeak", llm=endpoint.url, llm_timeout_s=5)
    try:
        with Client(server.endpoint, timeout=20) as client:
            session = client.open(live="chat")
            session.user_text("Hi!")
            assert reply_done(watch(session, 40, reply_done))
        endpoint.close()
        fail_and_recover(server, "endpoint")
    finally:
        server.stop()
        endpoint.close()


def test_an_unreachable_endpoint_ends_the_turn_with_an_error():
    from avbridge.dialogue.local_endpoint import free_port
    server = make_server(voice="espeak", llm=f"http://127.0.0.1:{free_port()}/v1", llm_model="m", llm_timeout_s=3)
    try:
        fail_and_recover(server, "refused")
    finally:
        server.stop()


class _Misbehaving(BaseHTTPRequestHandler):
    mode = "silent"

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self._json({"object": "list", "data": [{"id": "bad", "object": "model", "created": 0, "owned_by": "test"}]})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.mode == "silent":
            time.sleep(30)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        words = [""] if self.mode == "empty" else ("la " for _ in range(100_000))
        try:
            for word in words:
                chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "bad",
                         "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
                time.sleep(0.005)
            self.wfile.write(b"data: [DONE]\n\n")
        except OSError:         # the client stopped reading: it cancelled
            pass

    def _json(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def misbehaving():
    servers = []

    def start(mode: str) -> str:
        handler = type("Handler", (_Misbehaving,), {"mode": mode})
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def test_a_silent_endpoint_times_out(misbehaving):
    server = make_server(voice="espeak", llm=misbehaving("silent"), llm_timeout_s=1.5)
    try:
        fail_and_recover(server, "Timeout", timeout=10)
    finally:
        server.stop()


def test_an_empty_reply_is_an_error(misbehaving):
    server = make_server(voice="espeak", llm=misbehaving("empty"))
    try:
        fail_and_recover(server, "empty reply")
    finally:
        server.stop()


def test_an_endless_reply_is_cut_and_what_was_said_stands(misbehaving):
    server = make_server(voice="espeak", llm=misbehaving("endless"), llm_max_pieces=2, llm_max_reply_s=5)
    try:
        with Client(server.endpoint, timeout=20) as client:
            session = client.open(live="chat")
            t0 = time.monotonic()
            session.user_text("Sing!")
            got = watch(session, 30, reply_done)
            assert time.monotonic() - t0 < 25
            lines = [m for m in got if m.type == "stream" and m.get("text")]
            assert 1 <= len(lines) <= 2 and not events(got, "reply_error")
            assert [m for m in events(got, "reply") if m.get("final")]
    finally:
        server.stop()


def test_a_server_with_the_model_off_refuses_chat_sessions():
    server = make_server(voice="espeak", llm="off")
    try:
        assert "chat" not in server.service.capabilities
        with Client(server.endpoint, timeout=20) as client:
            with pytest.raises(ServerError, match="cannot chat"):
                client.open(live="chat")
    finally:
        server.stop()


def test_a_new_turn_during_a_reply_replaces_it_and_its_lines_end(chat_server):
    with Client(chat_server.endpoint, timeout=20) as client:
        session = client.open(live="chat", barge_in="never")
        session.user_text("Tell me a long story about a dragon and a knight, with many details.")
        got = watch(session, 30, lambda ms: any(m.type == "audio" for m in ms))
        session.user_text("Stop. What is your name?")
        got += watch(session, 40, lambda ms: len([m for m in events(ms, "reply") if m.get("final")]) >= 2
                     and reply_done(ms))
    cancelled = [m for m in got if m.type == "end" and "chat reply cancelled: a new turn" in m.get("reason", "")]
    assert cancelled and all(m["status"] == "interrupted" for m in cancelled)
    transcripts = [m["text"] for m in events(got, "transcript")]
    assert transcripts[-1] == "Stop. What is your name?"
    # Every line of the first reply has its end: the client is never left with an open line.
    lines = {m["utterance"] for m in got if m.type == "stream" and m.get("text")}
    ended = {m["utterance"] for m in got if m.type == "end"}
    assert lines <= ended
