"""`avbridge serve` as a real process: clean shutdown on signals, and `avbridge say --connect`."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from avbridge.cli import main
from avbridge.cli.bench import free_port
from avbridge.client import Client


@pytest.fixture
def serve_process():
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    process = subprocess.Popen([sys.executable, "-m", "avbridge", "serve", "--bind", endpoint, "--mirror", "off",
                                "--voice", "espeak", "--log-format", "json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while True:
        try:
            Client(endpoint, timeout=1).close()
            break
        except TimeoutError:
            assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
    yield endpoint, process
    if process.poll() is None:
        process.kill()
        process.wait(5)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_server_cleanly_and_tells_clients(serve_process, signum):
    endpoint, process = serve_process
    with Client(endpoint, timeout=10) as client:
        session = client.open()
        utterance = session.say_async("A long speech that the operator will cut short by stopping the server now.")
        first, _ = client.next_stream_message(session.id)
        assert first.type == "stream"
        process.send_signal(signum)
        assert process.wait(10) == 0
        ends = [m for m, _ in session.stream(utterance) if m.type == "end"]
    assert ends[-1]["status"] == "interrupted" and ends[-1]["reason"] == "server shutting down"
    log = process.stderr.read()
    assert '"level": "info"' in log and '"message": "stopped"' in log


def test_say_connects_to_a_running_server(serve_process, tmp_path, capsys):
    endpoint, _ = serve_process
    assert main(["say", "Connected.", "--connect", endpoint, "--voice", "espeak", "--out", str(tmp_path),
                 "--log-level", "warning"]) == 0
    assert (tmp_path / "track.csv").exists() and "lips closed on" in capsys.readouterr().out
