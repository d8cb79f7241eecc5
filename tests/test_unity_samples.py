"""The Unity sample's scene, prefab and profile asset: valid Unity YAML whose every reference resolves.

Unity writes a scene or prefab as YAML documents headed `--- !u!CLASS &FILEID`; objects refer to
one another by fileID within the file and to other assets by the GUID in their .meta. A wrong GUID
loses a component silently ("The referenced script is missing"), so each one is checked against
the package's .meta files, each script against the class its file declares, and each serialized
field against that class's fields.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "unity_plugin"
SAMPLE = PACKAGE / "Samples~" / "NpcQuickstart"
FILES = [SAMPLE / "NPC.prefab", SAMPLE / "NpcQuickstart.unity", SAMPLE / "LocalServer.asset"]
CLASS_NAMES = {1: "GameObject", 4: "Transform", 20: "Camera", 29: "OcclusionCullingSettings", 81: "AudioListener",
               82: "AudioSource", 104: "RenderSettings", 108: "Light", 114: "MonoBehaviour", 157: "LightmapSettings",
               196: "NavMeshSettings", 1001: "PrefabInstance"}
HEADER = re.compile(r"^--- !u!(\d+) &(\d+)( stripped)?$")
REFERENCE = re.compile(r"\{fileID: (-?\d+)(?:, guid: ([0-9a-f]{32}), type: (\d))?\}")


def documents(path: Path) -> list[tuple[int, int, dict]]:
    text = path.read_text()
    assert text.startswith("%YAML 1.1\n%TAG !u! tag:unity3d.com,2011:\n"), f"{path.name}: not a Unity YAML file"
    docs, current, lines = [], None, []
    for line in text.splitlines()[2:] + ["--- !u!0 &0"]:
        found = HEADER.match(line)
        if found:
            if current is not None:
                docs.append((*current, yaml.safe_load("\n".join(lines))))
            current, lines = (int(found.group(1)), int(found.group(2))), []
        else:
            lines.append(line)
    return docs


def guids() -> dict[str, Path]:
    found = {}
    for meta in PACKAGE.rglob("*.meta"):
        g = re.search(r"^guid: ([0-9a-f]{32})$", meta.read_text(), re.MULTILINE)
        assert g
        found[g.group(1)] = meta.with_suffix("")
    return found


def serialized_fields(script: Path) -> set[str]:
    """Public fields (and [SerializeField] ones) of the class the script declares."""
    text = script.read_text()
    names = set(re.findall(r"public\s+(?!static|const|readonly|event|override)[\w.<>\[\], ]+?\s+(\w+)\s*(?:=[^;]*)?;", text))
    names |= set(re.findall(r"\[SerializeField\][^;]*?\s(\w+)\s*(?:=[^;]*)?;", text))
    return names


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_reference_resolves(path: Path) -> None:
    docs = documents(path)
    ids = [file_id for _, file_id, _ in docs]
    assert len(ids) == len(set(ids)), f"{path.name}: fileIDs repeat"
    known = guids()
    for class_id, file_id, body in docs:
        assert class_id in CLASS_NAMES and list(body) == [CLASS_NAMES[class_id]], f"{path.name} &{file_id}: class {class_id} is not {list(body)}"
    for number, guid, kind in REFERENCE.findall(path.read_text()):
        if guid:
            assert guid in known, f"{path.name}: guid {guid} is no asset of the package"
            target = known[guid]
            if kind == "3" and number == "11500000":
                assert target.suffix == ".cs", f"{path.name}: a script reference to {target.name}"
        else:
            assert int(number) == 0 or int(number) in ids, f"{path.name}: fileID {number} is not in the file"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_scripts_and_their_fields_exist(path: Path) -> None:
    known = guids()
    for class_id, file_id, body in documents(path):
        if class_id != 114:
            continue
        fields = body["MonoBehaviour"]
        script = known[fields["m_Script"]["guid"]]
        class_name = script.stem
        assert re.search(rf"\bclass {class_name}\s*:\s*(MonoBehaviour|ScriptableObject)\b", script.read_text()), \
            f"{script.name} must declare {class_name} (Unity finds the class by the file's name)"
        declared = serialized_fields(script)
        for name in fields:
            if not name.startswith("m_"):
                assert name in declared, f"{path.name} &{file_id}: {class_name} has no serialized field '{name}'"


def test_game_objects_and_components_agree() -> None:
    for path in FILES[:2]:
        docs = {file_id: (class_id, body) for class_id, file_id, body in documents(path)}
        for file_id, (class_id, body) in docs.items():
            if class_id != 1:
                continue
            for entry in body["GameObject"]["m_Component"]:
                component = entry["component"]["fileID"]
                owner = next(iter(docs[component][1].values()))["m_GameObject"]["fileID"]
                assert owner == file_id, f"{path.name}: component {component} names another GameObject"


def test_the_scene_places_the_prefab() -> None:
    prefab_guid = next(g for g, p in guids().items() if p.name == "NPC.prefab")
    instances = [b for c, _, b in documents(SAMPLE / "NpcQuickstart.unity") if c == 1001]
    assert [i["PrefabInstance"]["m_SourcePrefab"]["guid"] for i in instances] == [prefab_guid]


def test_the_files_are_what_the_tool_writes() -> None:
    spec = importlib.util.spec_from_file_location("make_unity_samples", ROOT / "tools" / "make_unity_samples.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert (SAMPLE / "NPC.prefab").read_text() == tool.npc_prefab()
    assert (SAMPLE / "NpcQuickstart.unity").read_text() == tool.scene()
    assert (SAMPLE / "LocalServer.asset").read_text() == tool.profile()
