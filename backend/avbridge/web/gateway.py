"""The web page's gateway: HTTP for the page, a WebSocket per page bridged to a chat session.

aiohttp serves `static/` (the page and the vendored three.js), `/face.glb` (face_gltf.py) and
`/ws`. Each WebSocket gets a `PageBridge`: a thread of its own holding an avbridge `Client`
(which is synchronous and wants one thread) and one session opened with `live="chat"`.

The page talks to the bridge in a small protocol of its own, made for a browser (JSON for
control, binary for media; the server's msgpack framing stays behind the gateway):

    page -> gateway   text   {"type": "start", "persona"?: str}     open the chat session
                             {"type": "text", "text": str}          a typed turn (user_text)
                             {"type": "interrupt"}                  stop the avatar
                      binary the microphone: s16le mono at 16 kHz   (user_audio)
    gateway -> page   text   {"type": "ready", "session", "fps", "sample_rate", "blendshapes", "now"}
                             {"type": "stream" | "event" | "end", ...the message's fields, "now"}
                             {"type": "error", "text"}
                      binary uint32 LE n, n bytes of JSON {"type": "audio" | "frames", ...fields, "now"},
                             then the samples (s16le) or frames (f32le, 63 per frame)

Every message carries `now`: the session's clock at the moment it left the gateway, from a ping
at open. The page maps session time onto its AudioContext's clock with it, so the audio is
scheduled at its time and frames are sampled at the audio's playhead.

Loopback by default; the page has a microphone and a model behind it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from avbridge.client import Client, ServerError, SessionLost
from avbridge.dialogue.conversation import MAX_PERSONA_CHARS
from avbridge.protocol import Message
from avbridge.web.face_gltf import glb

log = logging.getLogger("avbridge.web")

STATIC = Path(__file__).with_name("static")
MIC_RATE = 16000
MAX_MIC_BYTES = 64 * 1024            # one microphone message: 2 s at 16 kHz is plenty
MAX_TEXT_CHARS = 2000


class PageBridge:
    """One page's chat session, on a thread that owns the client."""

    def __init__(self, endpoint: str, send: Any) -> None:
        self._endpoint = endpoint
        self._send = send                      # thread-safe: (text: str | None, binary: bytes | None)
        self._inbox: queue.Queue = queue.Queue()
        self._persona: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="avbridge-web-page", daemon=True)

    def start(self, persona: str | None) -> None:
        if persona:
            self._persona = persona[:MAX_PERSONA_CHARS]
        self._thread.start()

    def put(self, item: tuple[str, Any]) -> None:
        self._inbox.put(item)

    def stop(self) -> None:
        self._stop.set()

    # -- the bridge's thread ------------------------------------------------------------------
    def _run(self) -> None:
        try:
            with Client(self._endpoint, timeout=10, name="avbridge-web") as client:
                options: dict[str, Any] = {"live": "chat"}
                if self._persona:
                    options["persona"] = self._persona
                session = client.open(**options)
                rtt, pong = client.ping(session.id)
                # session time = local monotonic - offset (the pong's time taken mid-trip)
                offset = time.monotonic() - rtt / 2 - pong["session_time"]
                self._now = lambda: time.monotonic() - offset
                welcome = {"type": "ready", "session": session.id, "fps": session.fps,
                           "sample_rate": session.sample_rate, "blendshapes": client.welcome["blendshapes"],
                           "now": self._now()}
                self._send(json.dumps(welcome), None)
                self._loop(session)
        except Exception as exc:             # tell the page; the gateway serves the others
            log.warning("page session failed: %s", exc)
            self._send(json.dumps({"type": "error", "text": f"{exc.__class__.__name__}: {exc}"}), None)

    def _loop(self, session: Any) -> None:
        try:
            while not self._stop.is_set():
                self._take_inbox(session)
                for message, _ in session.received(0.02):
                    self._forward(message)
        finally:
            try:
                session.close()
            except Exception:               # the server is gone already: nothing to close
                pass

    def _take_inbox(self, session: Any) -> None:
        while True:
            try:
                kind, value = self._inbox.get_nowait()
            except queue.Empty:
                return
            try:
                if kind == "audio":
                    session.user_audio(value, MIC_RATE)
                elif kind == "text":
                    session.user_text(value)
                elif kind == "interrupt":
                    session.interrupt()
            except (ServerError, SessionLost) as exc:
                self._send(json.dumps({"type": "error", "text": str(exc)}), None)

    def _forward(self, message: Message) -> None:
        fields = {k: v for k, v in message.fields.items() if k != "session"}
        fields.update(type=message.type, now=self._now())
        if message.type in ("audio", "frames"):
            header = json.dumps(fields).encode()
            self._send(None, struct.pack("<I", len(header)) + header + message.bulk[0])
        elif message.type in ("stream", "event", "end"):
            self._send(json.dumps(fields), None)


def make_app(endpoint: str) -> Any:
    from aiohttp import WSMsgType, web

    async def index(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html")

    async def face(request: web.Request) -> web.StreamResponse:
        return web.Response(body=glb(), content_type="model/gltf-binary")

    async def socket(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=20, max_msg_size=MAX_MIC_BYTES * 2)
        await ws.prepare(request)
        loop = asyncio.get_running_loop()
        outbox: asyncio.Queue = asyncio.Queue()

        def send(text: str | None, binary: bytes | None) -> None:
            loop.call_soon_threadsafe(outbox.put_nowait, (text, binary))

        async def pump() -> None:
            while True:
                text, binary = await outbox.get()
                if text is not None:
                    await ws.send_str(text)
                else:
                    await ws.send_bytes(binary)

        bridge = PageBridge(endpoint, send)
        started = False
        pumping = asyncio.create_task(pump())
        try:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    if started and 0 < len(msg.data) <= MAX_MIC_BYTES and len(msg.data) % 2 == 0:
                        bridge.put(("audio", np.frombuffer(msg.data, "<i2").copy()))
                    continue
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    command = json.loads(msg.data)
                    kind = command["type"]
                except (ValueError, KeyError, TypeError):
                    await ws.send_str(json.dumps({"type": "error", "text": "expected a JSON object with a type"}))
                    continue
                if kind == "start" and not started:
                    started = True
                    bridge.start(command.get("persona") if isinstance(command.get("persona"), str) else None)
                elif kind == "text" and started and isinstance(command.get("text"), str):
                    bridge.put(("text", command["text"][:MAX_TEXT_CHARS]))
                elif kind == "interrupt" and started:
                    bridge.put(("interrupt", None))
                else:
                    await ws.send_str(json.dumps({"type": "error", "text": f"unexpected {kind!r}"}))
        finally:
            bridge.stop()
            pumping.cancel()
        return ws

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/face.glb", face)
    app.router.add_get("/ws", socket)
    app.router.add_static("/static/", STATIC)
    return app


def serve(endpoint: str, host: str = "127.0.0.1", port: int = 8765, ready: Any = None,
          stop: threading.Event | None = None) -> None:
    """Serve the page until interrupted (or `stop` is set). `ready(url)` is called once it listens."""
    from aiohttp import web

    async def main() -> None:
        runner = web.AppRunner(make_app(endpoint), access_log=None, shutdown_timeout=2.0)   # open pages do not hold a stop up
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1] if runner.addresses else port
        url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{bound}/"
        if ready is not None:
            ready(url)
        try:
            while stop is None or not stop.is_set():
                await asyncio.sleep(0.1)
        finally:
            await runner.cleanup()

    asyncio.run(main())


def serve_in_thread(endpoint: str, host: str = "127.0.0.1", port: int = 0,
                    timeout_s: float = 20.0) -> tuple[str, Callable[[], None]]:
    """Serve the page on a thread of its own (an application embedding it, the tests): its URL,
    and a function that stops it."""
    stop, urls = threading.Event(), queue.Queue()   # type: ignore[var-annotated]
    thread = threading.Thread(target=serve, args=(endpoint, host, port, urls.put, stop), name="avbridge-web", daemon=True)
    thread.start()
    try:
        url = urls.get(timeout=timeout_s)
    except queue.Empty:
        stop.set()
        raise RuntimeError(f"the page's gateway did not start within {timeout_s:g} s") from None

    def close() -> None:
        stop.set()
        thread.join(10)
    return url, close
