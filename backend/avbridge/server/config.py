"""Server configuration: one typed dataclass, filled from the command line or by code."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from avbridge.protocol.schema import MAX_BULK_BYTES


@dataclass
class ServerConfig:
    endpoint: str = "tcp://127.0.0.1:5570"
    """ROUTER: requests, replies and each client's own streams. Loopback unless told otherwise."""
    mirror_endpoint: str | None = "tcp://127.0.0.1:5571"
    """XPUB: a copy of every stream for observers; None disables it."""
    curve_secret: str | None = None
    """The server's CURVE secret certificate (`avbridge keys`); with curve_clients, both sockets use CURVE."""
    curve_clients: str | None = None
    """A folder of allowed clients' public certificates (*.key)."""
    insecure: bool = False
    """Allow a plaintext bind beyond loopback (refused otherwise)."""
    voice: str = "piper"
    motion: str = "procedural"
    fps: float = 60.0
    audio_message_s: float = 0.1
    """Audio per `audio` message; frames are batched to cover the same span."""
    lead_s: float = 0.5
    """How far ahead of the session clock a realtime session's stream is sent. Clients buffer this
    much; an interrupt discards what was sent beyond the cut."""
    produce_ahead_s: float = 4.0
    """How far ahead of the session clock synthesis may run before it is parked (bounds memory)."""
    playout_delay_s: float = 0.1
    """An utterance starts on the timeline this long after its first audio is ready: the client's
    buffer from the first sample on."""
    workers: int = field(default_factory=lambda: max(1, (os.cpu_count() or 2) - 1))
    """Worker threads that take any work (synthesis first by deadline); one more takes only light
    work (idle motion, live input, engine audio), so that never waits behind synthesis. One core
    is left to the I/O thread, whose sends are the stream's timing: on 2 cores a second synthesis
    thread tripled the C# client's p99 frame latency (1.6 -> 3.9 ms), and Piper's ONNX runtime
    already uses every core inside one call."""
    max_sessions: int = 512
    max_sessions_per_client: int = 64
    max_queued_utterances: int = 16
    max_text_chars: int = 10_000
    max_bulk_bytes: int = MAX_BULK_BYTES
    transport_max_bytes: int = 16 * 1024 * 1024
    """ZMQ_MAXMSGSIZE: a peer sending a bigger frame is disconnected by ZeroMQ itself."""
    heartbeat_ms: int = 1000
    """ZMTP PING interval the server uses and recommends to clients (welcome.heartbeat_ms)."""
    heartbeat_timeout_ms: int = 5000
    """Liveness: a client whose connection closed (or that TCP gave up on) and that has not come
    back with its routing id within this long has its sessions closed. A client that only stops
    reading keeps its connection (its kernel still acknowledges) and is never timed out."""
    send_hwm: int = 2000
    send_buffer_bytes: int = 0
    """ZMQ_SNDBUF of the client socket: 0 keeps the operating system's (tests make it small to
    fill a slow reader's pipe quickly)."""
    max_backlog_bytes: int = 64 * 1024 * 1024
    """Stream bytes the server holds for one client that does not read; past this, the biggest of
    its streams ends with status error (welcome.max_backlog_bytes)."""
    torch_threads: int | None = 1
    """Torch's intra-op threads while serving a learned motion model (set by the server, which owns
    the process; None leaves torch alone). One window is a few small matrix products: one thread
    gives 67 ms a window, two 118 ms (tools/bench_flow.py)."""
    switch_interval_s: float | None = 0.0001
    """The interpreter's thread switch interval while the server runs (restored when it stops).
    Each send gives the interpreter lock away, and getting it back from a busy worker takes up to
    this long, once per send: with Python's default of 5 ms a due send waited that long, and with
    0.5 ms 20 sessions beside engine audio being animated saw a batch jitter p99 of 10 to 12 ms
    against 4 to 8 ms at 0.1 ms (docs/benchmarks.md, fair scheduling)."""
    livelink: list[str] = field(default_factory=list)
    """host:port targets every session's frames go to as Live Link Face packets (server/outputs.py)."""
    livelink_subject: str = ""
    """The Live Link subject of the sessions (default avbridge-<session id>); `set` changes it per session."""
    vmc: list[str] = field(default_factory=list)
    """host:port VMC receivers (VSeeFace, Warudo...) every session's frames go to."""
    vmc_names: str = "vrm0"
    """The VMC blendshape names: vrm0, vrm1 or arkit (perfect sync)."""
    allow_remote_outputs: bool = False
    """Live Link and VMC targets off this machine are refused unless this is set."""
    takes_dir: str | None = None
    """Where each session's lines are written as timecoded take files (speech.wav + track.csv)."""
    output_delay_s: float = 0.0
    """Live Link and VMC frames leave this long after their time: the latency of the audio output
    they have to match (a local device, or the engine's own playback)."""
    play_audio: str | None = None
    """Play every session's speech on this local output device ("default": the system's), each
    sample heard at its time, so that Live Link and VMC frames sent then are in sync with it."""
    speech_cache_entries: int = 256
    llm: str = "local"
    """The language model of chat sessions: "local" (the bundled SmolLM2-135M-Instruct, run in the
    server by llama.cpp), a GGUF file's path, an OpenAI-compatible endpoint's URL
    (http://127.0.0.1:11434/v1 for Ollama, http://127.0.0.1:8080/v1 for llama.cpp's server), or
    "off" (dialogue/models.py)."""
    llm_model: str = ""
    """The endpoint's model name; empty takes the first it lists."""
    llm_timeout_s: float = 20.0
    """A reply whose next piece of text takes longer than this ends with `reply_error`."""
    llm_max_tokens: int = 200
    """A reply is cut here (a model that would not stop); what it wrote is still spoken."""
    llm_max_pieces: int = 4
    """A reply is cut after this many spoken pieces (sentences; the first may be a clause): a
    spoken answer runs three or four sentences, and a small model runs on past its persona's ask."""
    llm_max_reply_s: float = 60.0
    """A reply still being written after this long is cut the same way."""
    llm_threads: int = 0
    """llama.cpp threads of the local model; 0 leaves a core to speech (dialogue/models.py)."""
    min_fps: float = 1.0
    max_fps: float = 240.0
