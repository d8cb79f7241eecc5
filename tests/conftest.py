"""Shared fixtures. Servers bind random loopback ports; sockets use linger 0 and every wait has a
timeout, so a broken server fails a test instead of hanging the run."""

from __future__ import annotations

from pathlib import Path

import pytest
import zmq
from avbridge.core.audio import read_wav_mono
from avbridge.core.phonemes import Phoneme
from avbridge.client import Client
from avbridge.server.config import ServerConfig
from avbridge.server.transport import Server


DATA = Path(__file__).parent / "data"
BEAT_TURN_TEXT_SPAN_S = (1.2, 13.7)      # the span of beat_scott_turn.wav that its .txt transcribes


def make_server(**overrides) -> Server:
    config = ServerConfig(endpoint="tcp://127.0.0.1:0", mirror_endpoint="tcp://127.0.0.1:0", **overrides)
    return Server(config, context=zmq.Context()).start()


@pytest.fixture(scope="module")
def espeak_server():
    """espeak-ng is instant and deterministic: most socket tests use it."""
    server = make_server(voice="espeak")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def piper_server():
    server = make_server(voice="piper")
    yield server
    server.stop()


@pytest.fixture
def client(espeak_server):
    with Client(espeak_server.endpoint, timeout=20) as c:
        yield c


@pytest.fixture(scope="session")
def beat_turn() -> tuple:
    """A real speaker's turn (tests/data/README.md): 16 kHz int16 audio and its transcript."""
    pcm, rate = read_wav_mono(DATA / "beat_scott_turn.wav")
    assert rate == 16000
    return pcm, (DATA / "beat_scott_turn.txt").read_text().strip()


@pytest.fixture(scope="session")
def beat_turn_phones(beat_turn) -> list:
    """PocketSphinx's alignment of the turn's transcript, on the whole turn's time axis."""
    from avbridge.perception.phones import force_align
    pcm, text = beat_turn
    start, end = BEAT_TURN_TEXT_SPAN_S
    return [Phoneme(p.symbol, p.start + start, p.end + start)
            for p in force_align(pcm[int(start * 16000):int(end * 16000)], text)]
