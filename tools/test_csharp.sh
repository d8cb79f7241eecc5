#!/usr/bin/env bash
# Build the Unity plugin's engine-independent core, its Unity glue (against the UnityEngine stub in
# tests/unity_stub) and its edit-mode tests with Debian's mcs, then run the tests with nunit-console.
# Prints NUnit's summary and a plain "N passed, N failed" line; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=build/csharp
NUNIT_DIR=$(dirname "$(ls /usr/lib/cli/nunit.framework-2.6*/nunit.framework.dll | head -1)")
MCS="mcs -langversion:7.2 -sdk:4.7.2 -warnaserror -nologo"
mkdir -p "$OUT"
rm -f "$OUT"/*.dll
$MCS -target:library -out:$OUT/Avbridge.Core.dll -r:System.Numerics.dll -recurse:'unity_plugin/Runtime/Core/*.cs'
# The glue and editor scripts compile against a stub of the Unity APIs they use (compile check only).
$MCS -target:library -out:$OUT/UnityStub.dll -recurse:'tests/unity_stub/*.cs'
$MCS -target:library -out:$OUT/Avbridge.Unity.dll -r:$OUT/Avbridge.Core.dll -r:$OUT/UnityStub.dll \
    -recurse:'unity_plugin/Runtime/Unity/*.cs'
# The platform branches (microphone permission on Android and iOS) compile too.
for platform in UNITY_ANDROID UNITY_IOS; do
    $MCS -target:library -define:$platform -out:$OUT/Avbridge.Unity.$platform.dll -r:$OUT/Avbridge.Core.dll -r:$OUT/UnityStub.dll \
        -recurse:'unity_plugin/Runtime/Unity/*.cs'
done
# The VRM driver with UniVRM 0.x and 1.0 both present (its asmdef's versionDefines), against UniVRM's API shape.
$MCS -target:library -define:'AVBRIDGE_UNIVRM0;AVBRIDGE_VRM10' -out:$OUT/Avbridge.Vrm.dll -r:$OUT/Avbridge.Core.dll \
    -r:$OUT/Avbridge.Unity.dll -r:$OUT/UnityStub.dll -recurse:'unity_plugin/Runtime/Vrm/*.cs'
$MCS -target:library -out:$OUT/Avbridge.Editor.dll -r:$OUT/Avbridge.Core.dll -r:$OUT/Avbridge.Unity.dll \
    -r:$OUT/UnityStub.dll -recurse:'unity_plugin/Editor/*.cs'
$MCS -target:library -out:$OUT/Avbridge.Samples.dll -r:$OUT/Avbridge.Core.dll -r:$OUT/Avbridge.Unity.dll -r:$OUT/UnityStub.dll \
    -recurse:'unity_plugin/Samples~/*.cs'
# ...and with the Input System package instead of the legacy Input Manager.
$MCS -target:library -define:'ENABLE_INPUT_SYSTEM;AVBRIDGE_INPUT_SYSTEM' -out:$OUT/Avbridge.Samples.InputSystem.dll -r:$OUT/Avbridge.Core.dll \
    -r:$OUT/Avbridge.Unity.dll -r:$OUT/UnityStub.dll -recurse:'unity_plugin/Samples~/*.cs'
echo "compiled: Avbridge.Core, Avbridge.Unity (+ Android, iOS), Avbridge.Vrm, Avbridge.Editor and the samples (against tests/unity_stub)"
$MCS -target:library -out:$OUT/Avbridge.Tests.dll -r:$OUT/Avbridge.Core.dll -r:"$NUNIT_DIR/nunit.framework.dll" \
    -recurse:'unity_plugin/Tests/Editor/*.cs'
cp "$NUNIT_DIR/nunit.framework.dll" "$OUT/"
export AVBRIDGE_REPO="$PWD"
export AVBRIDGE_PYTHON="${AVBRIDGE_PYTHON:-$PWD/.venv/bin/python}"
status=0
(cd "$OUT" && nunit-console Avbridge.Tests.dll -nologo -xml=TestResult.xml) || status=$?
python3 - "$OUT/TestResult.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
cases = root.iter("test-case")
passed = failed = skipped = 0
for case in cases:
    if case.get("executed") != "True":
        skipped += 1
    elif case.get("success") == "True":
        passed += 1
    else:
        failed += 1
        print("FAILED:", case.get("name"))
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
PY
exit $status
