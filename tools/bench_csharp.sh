#!/usr/bin/env bash
# Build and run the C# client benchmark against a fresh `avbridge serve` on a free loopback port.
#   tools/bench_csharp.sh [SESSIONS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=build/csharp
mkdir -p $OUT
mcs -langversion:7.2 -sdk:4.7.2 -optimize+ -nologo -target:library -out:$OUT/Avbridge.Core.dll -r:System.Numerics.dll -recurse:'unity_plugin/Runtime/Core/*.cs'
mcs -langversion:7.2 -sdk:4.7.2 -optimize+ -nologo -out:$OUT/Bench.exe -r:$OUT/Avbridge.Core.dll -r:System.Core.dll -r:System.Numerics.dll tools/bench_csharp/*.cs
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
.venv/bin/avbridge serve --bind tcp://127.0.0.1:$PORT --mirror off --log-level warning ${AVBRIDGE_SERVE_ARGS:-} &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT
for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
sleep 1
echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; $(mono --version | head -1)"
export AVBRIDGE_PYTHON="$PWD/.venv/bin/python" AVBRIDGE_REPO="$PWD"
mono --server $OUT/Bench.exe tcp://127.0.0.1:$PORT "${1:-20}" "${2:-10}"
