"""Fault runs (tools/soak.py --fault) against real server processes on loopback: a client killed
mid-stream, the server killed and restarted, a link that stalls and drops, a Ray worker killed.
Each is short and bounded; the sessions the fault does not involve must notice nothing, and the
involved ones must end with a clear status (docs/reliability.md has the longer runs)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SOAK = Path(__file__).resolve().parents[1] / "tools" / "soak.py"


def soak(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "soak.json"
    result = subprocess.run([sys.executable, str(SOAK), "--sessions", "8", "--seconds", "30", "--warmup", "8",
                             "--voice", "espeak", "--check", "--json", str(out), *args],
                            check=False, capture_output=True, text=True, timeout=240)
    assert out.exists(), result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert result.returncode == 0, result.stdout + "\n" + "; ".join(report["problems"])
    return report


@pytest.mark.timeout(300)
def test_a_client_killed_mid_line_has_its_sessions_closed_and_nobody_else_notices(tmp_path):
    r = soak(tmp_path, "--fault", "client-kill")
    assert sorted(r["fault"]["victim_sessions_closed"]) == sorted(r["fault"]["victim_sessions"])
    assert r["not_involved"]["missing"] == 0 and not r["not_involved"]["errors"]


@pytest.mark.timeout(300)
def test_a_killed_server_comes_back_and_every_client_resumes(tmp_path):
    r = soak(tmp_path, "--fault", "server-kill")
    assert r["fault"]["all_resumed"] and r["fault"]["restart_s"] < 30
    assert r["involved"]["lost"] == r["involved"]["reopened"] == 8
    assert r["involved"]["lines_done"] > 0


@pytest.mark.timeout(300)
def test_a_stalled_then_dropped_link_resumes_its_sessions_and_nobody_else_notices(tmp_path):
    r = soak(tmp_path, "--fault", "stall")
    assert r["involved"]["lost"] == 0, "the stalled client came back within the grace period: its sessions wait"
    assert r["involved"]["lines_done"] > 0
    assert r["not_involved"]["missing"] == 0 and not r["not_involved"]["errors"]


@pytest.mark.timeout(300)
def test_a_killed_ray_worker_ends_only_its_own_sessions(tmp_path):
    pytest.importorskip("ray")
    r = soak(tmp_path, "--cluster", "2", "--fault", "worker-kill")
    assert r["involved"]["ends"].get("error", 0) >= 1 and r["involved"]["lost"] >= 1
    assert r["involved"]["reopened"] == r["involved"]["lost"]
    assert r["not_involved"]["missing"] == 0 and r["not_involved"]["ends"].get("error", 0) == 0
    assert any("died" in line for line in r["fault"]["front_door_log"])
