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


def test_every_asset_has_its_meta_and_guids_are_unique():
    tool = _tool()
    missing = [str(m.relative_to(ROOT)) for m in tool.wanted() if not m.exists()]
    assert not missing, f"run: python tools/make_unity_meta.py ({missing[:5]})"
    owners: dict[str, Path] = {}
    for meta in PACKAGE.rglob("*.meta"):
        assert meta.with_suffix("").exists(), f"{meta} has no asset"
        guid = tool.guid_of(meta)
        assert guid, f"{meta} has no guid"
        assert guid not in owners, f"{meta} and {owners[guid]} share guid {guid}"
        owners[guid] = meta
    assert "PackageManifestImporter:" in (PACKAGE / "package.json.meta").read_text()


def test_a_moved_script_keeps_its_guid(tmp_path):
    """Moving a script with its .meta must not change its GUID: scenes and prefabs refer to it."""
    tool = _tool()
    package = tmp_path / "unity_plugin"
    (package / "Runtime").mkdir(parents=True)
    (package / "Runtime" / "Npc.cs").write_text("class Npc {}")
    tool.write_missing(package)
    original = tool.guid_of(package / "Runtime" / "Npc.cs.meta")
    (package / "Moved").mkdir()
    for name in ("Npc.cs", "Npc.cs.meta"):
        (package / "Runtime" / name).rename(package / "Moved" / name)
    tool.write_missing(package)
    assert tool.guid_of(package / "Moved" / "Npc.cs.meta") == original
    assert (package / "Moved.meta").exists()


def test_manifest_is_installable():
    manifest = json.loads((PACKAGE / "package.json").read_text())
    assert manifest["dependencies"].get("com.unity.modules.audio"), "AudioSource and OnAudioFilterRead need the audio module"
    url = manifest.get("documentationUrl")
    assert url is None or url.startswith("https://"), "Unity opens documentationUrl in a browser: it must be absolute"


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
