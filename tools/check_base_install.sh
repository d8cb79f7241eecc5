#!/bin/sh
# The base install (no extras) on its own: under 500 MB, and `avbridge say` and `avbridge serve`
# work in it, with a live session refused by a sentence naming the extra. Run by .ci/run.
#     tools/check_base_install.sh [VENV]     (default: .venv-base, made fresh)
set -eu
cd "$(dirname "$0")/.."
VENV=${1:-.venv-base}
PYTHON=${PYTHON:-python3}
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet .
size_mb=$(du -sm "$VENV" | cut -f1)
echo "base install: ${size_mb} MB in $VENV (limit 500)"
[ "$size_mb" -le 500 ] || { echo "the base install is over 500 MB" >&2; exit 1; }
out=$(mktemp -d)
"$VENV/bin/avbridge" say "Bob bought a big map." --out "$out/take" --log-level warning
for f in speech.wav track.csv events.jsonl; do [ -s "$out/take/$f" ] || { echo "missing $f" >&2; exit 1; }; done
port=$("$VENV/bin/python" -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
"$VENV/bin/avbridge" serve --bind "tcp://127.0.0.1:$port" --mirror off --log-level warning &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$out"' EXIT
"$VENV/bin/python" - "$port" <<'PY'
import sys, time
from avbridge.client import Client, ServerError
deadline = time.monotonic() + 60
while True:
    try:
        client = Client(f"tcp://127.0.0.1:{sys.argv[1]}", timeout=5)
        break
    except Exception:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.5)
with client:
    caps = client.welcome["capabilities"]
    assert "live" not in caps and "emotion_auto" not in caps, caps
    result = client.open(realtime=False).say("Hello from the base install.", timeout=60)
    assert result.end["status"] == "done" and len(result.track) > 0 and len(result.pcm) > 0
    try:
        client.open(live="listen")
        raise SystemExit("a live session opened without the live extra")
    except ServerError as exc:
        refused = exc.message
    assert "avbridge[live]" in refused, refused
    print(f"base install: serve answered; {result.duration:.2f} s of speech, {len(result.track)} frames; "
          f"live refused: {refused}")
PY
