"""The Unity package's shape: manifest, assembly definitions, .meta files."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "unity_plugin"


def _tool():
    spec = importlib.util.spec_from_file_location("make_unity_meta", ROOT / "tools" / "make_unity_meta.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_asset_has_its_meta():
    stale = [str(m.relative_to(ROOT)) for m, content in _tool().wanted().items()
             if not m.exists() or m.read_text() != content]
    assert not stale, f"run: python tools/make_unity_meta.py ({stale[:5]})"


def test_manifest_and_assemblies():
    manifest = json.loads((PACKAGE / "package.json").read_text())
    assert manifest["name"] == "com.avbridge.avatar" and manifest["license"] == "MIT"
    for sample in manifest["samples"]:
        assert (PACKAGE / sample["path"]).is_dir()
    core = json.loads((PACKAGE / "Runtime/Core/Avbridge.Core.asmdef").read_text())
    assert core["noEngineReferences"] is True and core["references"] == []
    tests = json.loads((PACKAGE / "Tests/Editor/Avbridge.Tests.asmdef").read_text())
    assert tests["includePlatforms"] == ["Editor"] and "UNITY_INCLUDE_TESTS" in tests["defineConstraints"]


def test_core_uses_no_engine_api():
    for source in (PACKAGE / "Runtime/Core").rglob("*.cs"):
        text = source.read_text()
        assert "using UnityEngine" not in text and "using UnityEditor" not in text, source
