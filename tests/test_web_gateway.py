"""The web gateway without a browser: the page and the face it serves, and its WebSocket protocol
under bad input (not JSON, unknown types, microphone bytes before a session, odd sizes), a server
that cannot chat, and a page that goes away mid-reply (its session is closed)."""

from __future__ import annotations

import asyncio
import json
import struct
import time

import numpy as np
import pytest
from conftest import make_server

aiohttp = pytest.importorskip("aiohttp")
pytest.importorskip("llama_cpp")


@pytest.fixture(scope="module")
def gateway():
    from avbridge.web.gateway import serve_in_thread
    servers = {}

    def start(llm: str) -> tuple:
        if llm not in servers:
            server = make_server(voice="espeak", llm=llm)
            servers[llm] = (server, *serve_in_thread(server.endpoint))
        return servers[llm][:2]
    yield start
    for server, _, close in servers.values():
        close()
        server.stop()


async def talk(url: str, sends: list, until, timeout: float = 30.0) -> list:
    """Send each item (str: text frame, bytes: binary), then collect what comes back until
    `until(received)`; binary frames are decoded to (header, payload)."""
    got: list = []
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url.replace("http", "ws") + "ws") as ws:
            for item in sends:
                await (ws.send_str(item) if isinstance(item, str) else ws.send_bytes(item))
            deadline = time.monotonic() + timeout
            while not until(got) and time.monotonic() < deadline:
                try:
                    msg = await ws.receive(timeout=max(0.1, deadline - time.monotonic()))
                except asyncio.TimeoutError:
                    break
                if msg.type == aiohttp.WSMsgType.TEXT:
                    got.append(json.loads(msg.data))
                elif msg.type == aiohttp.WSMsgType.BINARY:
                    n = struct.unpack("<I", msg.data[:4])[0]
                    got.append((json.loads(msg.data[4:4 + n]), msg.data[4 + n:]))
                else:
                    break
    return got


def test_the_page_and_the_face_are_served(gateway):
    import pygltflib
    _, url = gateway("local")

    async def fetch():
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as page:
                html = await page.text()
            async with http.get(url + "face.glb") as face:
                glb = await face.read()
            async with http.get(url + "static/vendor/three.min.js") as three:
                assert three.status == 200
        return html, glb
    html, glb = asyncio.run(fetch())
    assert '<script type="importmap">' in html and "/static/app.js" in html
    assert "http" not in html.split("<body>")[0].replace("http-equiv", ""), "the page loads nothing from the internet"
    gltf = pygltflib.GLTF2.load_from_bytes(glb)
    mesh = gltf.meshes[0]
    from avbridge.core.arkit import ARKIT_BLENDSHAPES
    assert len(mesh.primitives[0].targets) == 52 and mesh.extras["targetNames"] == list(ARKIT_BLENDSHAPES)
    assert len(gltf.scenes[0].extras["eyeCentres"]) == 2


def test_bad_messages_get_a_sentence_and_the_page_goes_on(gateway):
    _, url = gateway("local")
    got = asyncio.run(talk(url, [b"\x00\x01", "not json", json.dumps({"no": "type"}), json.dumps({"type": "fly"}),
                                 json.dumps({"type": "text", "text": "before start"}),
                                 json.dumps({"type": "start", "persona": "You are Ada."}), b"\x00\x01\x02"],
                           lambda got: any(isinstance(m, dict) and m.get("type") == "ready" for m in got)))
    errors = [m["text"] for m in got if isinstance(m, dict) and m.get("type") == "error"]
    assert "expected a JSON object with a type" in errors[0]
    assert any("unexpected 'fly'" in e for e in errors) and any("unexpected 'text'" in e for e in errors)
    ready = [m for m in got if isinstance(m, dict) and m.get("type") == "ready"]
    assert ready and ready[0]["fps"] == 60 and ready[0]["sample_rate"] > 0 and "jawOpen" in ready[0]["blendshapes"]


def test_a_typed_turn_comes_back_as_events_audio_and_frames(gateway):
    server, url = gateway("local")
    got = asyncio.run(talk(url, [json.dumps({"type": "start"}), json.dumps({"type": "text", "text": "Hello there!"})],
                           lambda got: any(isinstance(m, tuple) and m[0]["type"] == "audio" for m in got)
                           and any(isinstance(m, tuple) and m[0]["type"] == "frames" and not m[0]["utterance"].startswith("idle")
                                   for m in got)))
    names = [m.get("name") for m in got if isinstance(m, dict) and m.get("type") == "event"]
    assert "transcript" in names and "reply" in names
    frames = [m for m in got if isinstance(m, tuple) and m[0]["type"] == "frames"]
    header, payload = frames[0]
    assert len(payload) == header["count"] * 63 * 4 and np.isfinite(np.frombuffer(payload, "<f4")).all()
    assert all("now" in (m[0] if isinstance(m, tuple) else m) for m in got if not (isinstance(m, dict) and m.get("type") == "error"))


def test_a_page_that_goes_away_has_its_session_closed(gateway):
    server, url = gateway("local")
    before = len(server.service.sessions)
    asyncio.run(talk(url, [json.dumps({"type": "start"}), json.dumps({"type": "text", "text": "Tell me a story."})],
                     lambda got: any(isinstance(m, dict) and m.get("name") == "reply" for m in got)))
    deadline = time.monotonic() + 10
    while len(server.service.sessions) > before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(server.service.sessions) == before


def test_a_server_that_cannot_chat_says_so(gateway):
    _, url = gateway("off")
    got = asyncio.run(talk(url, [json.dumps({"type": "start"})],
                           lambda got: any(m.get("type") == "error" for m in got if isinstance(m, dict))))
    errors = [m["text"] for m in got if isinstance(m, dict) and m.get("type") == "error"]
    assert errors and "cannot chat" in errors[0]


def test_avbridge_web_serves_the_page_until_interrupted():
    import signal
    import subprocess
    import sys
    import urllib.request

    from avbridge.dialogue.local_endpoint import free_port
    port = free_port()
    # Started with SIGINT ignored, as under some test runners and service managers: Ctrl-C must
    # still stop it (it did not, once Ray had run in the same pytest process).
    process = subprocess.Popen(["sh", "-c", 'trap "" INT; exec "$0" -m avbridge web --port "$1" --voice espeak '
                                "--log-level warning", sys.executable, str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    # (stderr apart: the models' progress bars, written from another thread, could split the line)
    try:
        line = process.stdout.readline()
        assert f"open http://127.0.0.1:{port}/" in line, line
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
            assert b"/static/app.js" in page.read()
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()
