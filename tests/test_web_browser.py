"""The web page in a real browser: Debian's Chromium, headless, driven by Playwright, with a fake
microphone that plays a recorded spoken question (tests/data/speechocean_question.wav).

The whole path is real: the page's AudioWorklet resamples the microphone to 16 kHz for the gateway
(avbridge web's aiohttp WebSocket), the gateway's client sends it as user_audio to a server whose
chat sessions talk to llama.cpp's OpenAI-compatible server on the bundled model, and what comes
back is played through WebAudio and drawn with three.js. What the page heard and drew is read
back from `window.avbridge`: events, the output level, and the jawOpen weight it drew at each
animation frame with the session time of the audio being heard."""

from __future__ import annotations

import shutil
import time
import wave
from pathlib import Path

import numpy as np
import pytest
from avbridge.core.audio import read_wav_mono
from conftest import make_server

playwright = pytest.importorskip("playwright.sync_api")
pytest.importorskip("llama_cpp")

DATA = Path(__file__).parent / "data"
ARTIFACTS = Path(__file__).resolve().parents[1] / "build" / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def write_wav(path: Path, pcm: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(pcm.astype("<i2").tobytes())
    return path


@pytest.fixture(scope="module")
def page_url():
    from avbridge.dialogue.local_endpoint import LocalEndpoint
    from avbridge.web.gateway import serve_in_thread
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: `make test` installs it (tools/setup_system.sh)")
    with LocalEndpoint() as endpoint:
        server = make_server(voice="espeak", llm=endpoint.url, llm_max_pieces=3)
        url, close = serve_in_thread(server.endpoint)
        yield url
        close()
        server.stop()


@pytest.fixture
def browser_with(tmp_path):
    """A headless Chromium whose microphone plays a file. It is kept to one core (taskset), as a
    browser on a user's own machine would be: software WebGL otherwise takes the server's."""
    launched = []

    def launch(capture: Path, loop: bool = False):
        wrapper = tmp_path / "chromium"
        wrapper.write_text(f'#!/bin/sh\nexec taskset -c 1 {CHROMIUM} "$@"\n' if shutil.which("taskset")
                           else f'#!/bin/sh\nexec {CHROMIUM} "$@"\n')
        wrapper.chmod(0o755)
        p = playwright.sync_playwright().start()
        browser = p.chromium.launch(executable_path=str(wrapper), headless=True, args=[
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={capture}{'' if loop else '%noloop'}",
            "--autoplay-policy=no-user-gesture-required", "--enable-unsafe-swiftshader", "--use-angle=swiftshader"])
        launched.append((p, browser))
        page = browser.new_page(viewport={"width": 880, "height": 460})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        return page, errors
    yield launch
    for p, browser in launched:
        browser.close()
        p.stop()


def state(page) -> dict:
    return page.evaluate("""({state: avbridge.state, lines: avbridge.lines, audio: avbridge.audioPieces,
        peak: avbridge.outputPeak, bargeIns: avbridge.bargeIns || 0, errors: avbridge.errors,
        ends: avbridge.ends, transcripts: avbridge.events.filter(e => e.name == 'transcript' && e.final).map(e => e.text),
        replies: avbridge.events.filter(e => e.name == 'reply' && e.final).map(e => e.text),
        replyErrors: avbridge.events.filter(e => e.name == 'reply_error').map(e => e.text)})""")


def wait_for(page, condition, timeout: float, what: str) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = state(page)
        if condition(s):
            return s
        time.sleep(0.25)
    raise AssertionError(f"{what} within {timeout:g} s; the page: {state(page)}")


def answered(s: dict) -> bool:
    """A reply was written, some of it spoken, and every line it spoke has ended."""
    lines = [e for e in s["ends"] if not e["idle"]]
    return bool(s["replies"]) and s["lines"] > 0 and len(lines) >= s["lines"] and s["state"] != "speaking"


def mouth(page) -> np.ndarray:
    """(n, 4): session time heard, jawOpen drawn, whether a line (not idle) was drawn, output peak."""
    return np.array(page.evaluate("avbridge.mouth"), np.float64).reshape(-1, 4)


def start(page, url: str, query: str = "") -> None:
    page.goto(url + "?fps=30" + query)
    page.click("#begin")
    wait_for(page, lambda s: page.evaluate("avbridge.ready"), 30, "the session did not open")


def check_mouth_moved_then_rested(page) -> None:
    m = mouth(page)
    speaking = m[m[:, 2] == 1]
    assert len(speaking) > 10, "no frame of a line was drawn"
    assert speaking[:, 1].max() > 0.15 and speaking[:, 1].std() > 0.03, speaking[:, 1].round(2)
    assert speaking[:, 3].max() > 0.02, "nothing was heard while the lines were drawn"
    after = m[m[:, 0] > speaking[-1, 0] + 0.5]
    assert len(after) > 5 and after[:, 1].max() < 0.12, after[:, 1].round(2)


def test_a_spoken_question_is_heard_answered_aloud_and_lip_synced(page_url, browser_with, tmp_path):
    question = read_wav_mono(DATA / "speechocean_question.wav")[0]
    capture = write_wav(tmp_path / "question.wav", np.concatenate([np.zeros(24000, np.int16), question,
                                                                   np.zeros(16000, np.int16)]))
    page, errors = browser_with(capture)
    start(page, page_url)
    s = wait_for(page, lambda s: s["transcripts"], 40, "no final transcript of the spoken question")
    assert "best" in s["transcripts"][0].lower(), s["transcripts"]
    wait_for(page, lambda s: s["state"] == "speaking" and s["audio"] > 2, 60, "the avatar did not start answering")
    time.sleep(0.6)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web_chat.png"))
    s = wait_for(page, answered, 60, "the answer did not finish")
    time.sleep(1.5)
    assert not s["replyErrors"] and not s["errors"], s
    assert s["peak"] > 0.02
    check_mouth_moved_then_rested(page)
    assert not errors, errors


def test_a_typed_question_is_answered(page_url, browser_with, tmp_path):
    page, errors = browser_with(write_wav(tmp_path / "silence.wav", np.zeros(16000, np.int16)))
    start(page, page_url, "&mic=off")
    page.fill("#text", "Hello! Who are you?")
    page.press("#text", "Enter")
    s = wait_for(page, answered, 60, "the typed question was not answered")
    assert s["transcripts"] == ["Hello! Who are you?"]
    time.sleep(1.5)
    check_mouth_moved_then_rested(page)
    assert page.locator(".turn.you").first.inner_text().endswith("Hello! Who are you?")
    assert page.locator(".turn.ada").count() >= 1
    assert not errors, errors


def test_talking_over_the_avatar_stops_it(page_url, browser_with, tmp_path):
    question = read_wav_mono(DATA / "speechocean_question.wav")[0]
    capture = write_wav(tmp_path / "looping.wav", np.concatenate([question, np.zeros(8000, np.int16)]))
    page, errors = browser_with(capture, loop=True)
    start(page, page_url, "&mic=off")
    page.fill("#text", "Tell me a long story about a dragon and a knight.")
    page.press("#text", "Enter")
    wait_for(page, lambda s: s["state"] == "speaking" and s["audio"] > 3, 60, "the avatar did not start its story")
    page.click("#mic")                    # the user starts talking over it
    s = wait_for(page, lambda s: s["bargeIns"] > 0, 20, "no barge-in")
    cut = [e for e in s["ends"] if e["status"] == "interrupted"]
    assert cut, s["ends"]
    # The story's speech stops where it was cut: nothing of it is drawn after.
    time.sleep(1.0)
    m = mouth(page)
    cut_at = min(e["time"] for e in cut)
    drawn_after = m[(m[:, 0] > cut_at + 0.2) & (m[:, 0] < cut_at + 0.8)]
    assert len(drawn_after) and (drawn_after[:, 2] == 0).all(), drawn_after
    assert not errors, errors
