"""Write the NPC quick-start sample's scene, prefab and connection profile as Unity YAML.

The files refer to the package's scripts and to each other by the GUIDs in their .meta files
(tools/make_unity_meta.py), so a moved script keeps working; the fileIDs inside a file are fixed
numbers, so regenerating changes nothing. tests/test_unity_samples.py parses what this writes and
checks every reference. Run it after changing a component's serialized fields:

    python tools/make_unity_meta.py && python tools/make_unity_samples.py && python tools/make_unity_meta.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "unity_plugin"
SAMPLE = PACKAGE / "Samples~" / "NpcQuickstart"
HEADER = "%YAML 1.1\n%TAG !u! tag:unity3d.com,2011:\n"
# Unity's class ids (docs.unity3d.com/Manual/ClassIDReference.html).
GAME_OBJECT, TRANSFORM, CAMERA, AUDIO_LISTENER, AUDIO_SOURCE, LIGHT, MONO_BEHAVIOUR, PREFAB_INSTANCE = 1, 4, 20, 81, 82, 108, 114, 1001
NONE = "{fileID: 0}"


def meta_guid(path: Path) -> str:
    meta = path.with_name(path.name + ".meta")
    if not meta.exists():
        sys.exit(f"{meta} is missing: run tools/make_unity_meta.py first")
    found = re.search(r"^guid: ([0-9a-f]{32})$", meta.read_text(), re.MULTILINE)
    assert found, meta
    return found.group(1)


def script(relative: str) -> str:
    return f"{{fileID: 11500000, guid: {meta_guid(PACKAGE / relative)}, type: 3}}"


def ref(file_id: int) -> str:
    return f"{{fileID: {file_id}}}"


def document(class_id: int, file_id: int, type_name: str, body: str) -> str:
    return f"--- !u!{class_id} &{file_id}\n{type_name}:\n{body}"


def game_object(file_id: int, name: str, components: list[int]) -> str:
    listed = "".join(f"  - component: {ref(c)}\n" for c in components)
    return document(GAME_OBJECT, file_id, "GameObject", (
        "  m_ObjectHideFlags: 0\n  m_CorrespondingSourceObject: {fileID: 0}\n  m_PrefabInstance: {fileID: 0}\n"
        "  m_PrefabAsset: {fileID: 0}\n  serializedVersion: 6\n  m_Component:\n" + listed +
        f"  m_Layer: 0\n  m_Name: {name}\n  m_TagString: Untagged\n  m_Icon: {{fileID: 0}}\n  m_NavMeshLayer: 0\n"
        "  m_StaticEditorFlags: 0\n  m_IsActive: 1\n"))


def transform(file_id: int, owner: int, position: str = "{x: 0, y: 0, z: 0}", rotation: str = "{x: 0, y: 0, z: 0, w: 1}") -> str:
    return document(TRANSFORM, file_id, "Transform", (
        "  m_ObjectHideFlags: 0\n  m_CorrespondingSourceObject: {fileID: 0}\n  m_PrefabInstance: {fileID: 0}\n"
        f"  m_PrefabAsset: {{fileID: 0}}\n  m_GameObject: {ref(owner)}\n  serializedVersion: 2\n"
        f"  m_LocalRotation: {rotation}\n  m_LocalPosition: {position}\n  m_LocalScale: {{x: 1, y: 1, z: 1}}\n"
        "  m_ConstrainProportionsScale: 0\n  m_Children: []\n  m_Father: {fileID: 0}\n"))


def component_head(owner: int) -> str:
    """The fields every component of a GameObject starts with."""
    return ("  m_ObjectHideFlags: 0\n  m_CorrespondingSourceObject: {fileID: 0}\n  m_PrefabInstance: {fileID: 0}\n"
            f"  m_PrefabAsset: {{fileID: 0}}\n  m_GameObject: {ref(owner)}\n  m_Enabled: 1\n")


def behaviour(file_id: int, owner: int, script_ref: str, fields: str) -> str:
    return document(MONO_BEHAVIOUR, file_id, "MonoBehaviour", component_head(owner) + (
        "  m_EditorHideFlags: 0\n"
        f"  m_Script: {script_ref}\n  m_Name: \n  m_EditorClassIdentifier: \n" + fields))


def profile() -> str:
    body = document(MONO_BEHAVIOUR, 11400000, "MonoBehaviour", (
        "  m_ObjectHideFlags: 0\n  m_CorrespondingSourceObject: {fileID: 0}\n  m_PrefabInstance: {fileID: 0}\n"
        "  m_PrefabAsset: {fileID: 0}\n  m_GameObject: {fileID: 0}\n  m_Enabled: 1\n  m_EditorHideFlags: 0\n"
        f"  m_Script: {script('Runtime/Unity/AvbridgeConnectionProfile.cs')}\n  m_Name: LocalServer\n  m_EditorClassIdentifier: \n"
        "  endpoint: tcp://127.0.0.1:5570\n  fps: 60\n  voice: \n  retrySeconds: 2\n  heartbeatTimeoutSeconds: 5\n"))
    return HEADER + body


def npc_prefab() -> str:
    root, tf, audio, client, player, blend, head, speaker = 100000, 400000, 8200000, 11400002, 11400004, 11400006, 11400008, 11400010
    profile_ref = f"{{fileID: 11400000, guid: {meta_guid(SAMPLE / 'LocalServer.asset')}, type: 2}}"
    docs = [
        game_object(root, "NPC", [tf, audio, client, player, blend, head, speaker]),
        transform(tf, root),
        document(AUDIO_SOURCE, audio, "AudioSource", component_head(root) + (
            "  serializedVersion: 4\n"
            "  OutputAudioMixerGroup: {fileID: 0}\n  m_audioClip: {fileID: 0}\n  m_PlayOnAwake: 0\n  m_Volume: 1\n"
            "  m_Pitch: 1\n  Loop: 1\n  Mute: 0\n  Spatialize: 0\n  SpatializePostEffects: 1\n  Priority: 128\n"
            "  DopplerLevel: 0\n  MinDistance: 1\n  MaxDistance: 30\n  Pan2D: 0\n  rolloffMode: 0\n  BypassEffects: 0\n"
            "  BypassListenerEffects: 0\n  BypassReverbZones: 0\n")),
        behaviour(client, root, script("Runtime/Unity/AvbridgeClient.cs"), (
            f"  profile: {profile_ref}\n  endpoint: tcp://127.0.0.1:5570\n  fps: 60\n  voice: \n  connectOnEnable: 1\n")),
        behaviour(player, root, script("Runtime/Unity/AvbridgeAudioPlayer.cs"), f"  client: {ref(client)}\n  extraOutputLatency: 0\n"),
        behaviour(blend, root, script("Runtime/Unity/AvbridgeBlendshapeDriver.cs"), (
            f"  client: {ref(client)}\n  faces: []\n  preset: 0\n  mappingAsset: {NONE}\n  intensity: 1\n  mode: 0\n")),
        behaviour(head, root, script("Runtime/Unity/AvbridgeHeadEyeDriver.cs"), (
            f"  client: {ref(client)}\n  characterRoot: {NONE}\n  head: {NONE}\n  neck: {NONE}\n  neckShare: 0.4\n"
            f"  leftEye: {NONE}\n  rightEye: {NONE}\n  headWeight: 1\n  eyeWeight: 1\n  maxHeadDegrees: 25\n"
            f"  maxEyeDegrees: 30\n  gazeTarget: {NONE}\n")),
        behaviour(speaker, root, script("Samples~/NpcQuickstart/NpcSpeaker.cs"), (
            f"  client: {ref(client)}\n  lines:\n  - Welcome, traveller. The market opens at dawn.\n"
            "  - Bob the blacksmith will mend your sword for a fair price.\n"
            "  - Mind the bridge on the river road; the planks are old.\n")),
    ]
    return HEADER + "".join(docs)


def scene() -> str:
    camera_go, camera_tf, camera, listener = 200000, 200002, 200004, 200006
    light_go, light_tf, light = 300000, 300002, 300004
    instance = 500000
    prefab_guid = meta_guid(SAMPLE / "NPC.prefab")
    docs = [
        document(29, 1, "OcclusionCullingSettings", "  m_ObjectHideFlags: 0\n  serializedVersion: 2\n"),
        document(104, 2, "RenderSettings", "  m_ObjectHideFlags: 0\n  serializedVersion: 9\n  m_AmbientMode: 0\n"),
        document(157, 3, "LightmapSettings", "  m_ObjectHideFlags: 0\n  serializedVersion: 12\n"),
        document(196, 4, "NavMeshSettings", "  serializedVersion: 2\n  m_ObjectHideFlags: 0\n"),
        game_object(camera_go, "Main Camera", [camera_tf, camera, listener]),
        transform(camera_tf, camera_go, position="{x: 0, y: 1.6, z: 1.2}", rotation="{x: 0, y: 1, z: 0, w: 0}"),
        document(CAMERA, camera, "Camera", component_head(camera_go) + (
            "  serializedVersion: 2\n"
            "  m_ClearFlags: 1\n  near clip plane: 0.1\n  far clip plane: 100\n  field of view: 40\n  orthographic: 0\n  m_Depth: -1\n")),
        document(AUDIO_LISTENER, listener, "AudioListener", component_head(camera_go)),
        game_object(light_go, "Directional Light", [light_tf, light]),
        transform(light_tf, light_go, position="{x: 0, y: 3, z: 0}", rotation="{x: 0.40821788, y: -0.23456968, z: 0.10938163, w: 0.8754261}"),
        document(LIGHT, light, "Light", component_head(light_go) + (
            "  serializedVersion: 10\n"
            "  m_Type: 1\n  m_Color: {r: 1, g: 0.95686275, b: 0.8392157, a: 1}\n  m_Intensity: 1\n  m_Shadows:\n    m_Type: 2\n")),
        document(PREFAB_INSTANCE, instance, "PrefabInstance", (
            "  m_ObjectHideFlags: 0\n  serializedVersion: 2\n  m_Modification:\n    serializedVersion: 3\n"
            "    m_TransformParent: {fileID: 0}\n    m_Modifications:\n"
            f"    - target: {{fileID: 100000, guid: {prefab_guid}, type: 3}}\n      propertyPath: m_Name\n      value: NPC\n"
            "      objectReference: {fileID: 0}\n    m_RemovedComponents: []\n    m_RemovedGameObjects: []\n"
            "    m_AddedGameObjects: []\n    m_AddedComponents: []\n"
            f"  m_SourcePrefab: {{fileID: 100100000, guid: {prefab_guid}, type: 3}}\n")),
    ]
    return HEADER + "".join(docs)


def main() -> None:
    (SAMPLE / "LocalServer.asset").write_text(profile())
    (SAMPLE / "NPC.prefab").write_text(npc_prefab())   # needs LocalServer.asset.meta
    (SAMPLE / "NpcQuickstart.unity").write_text(scene())   # needs NPC.prefab.meta
    print("wrote", ", ".join(p.name for p in (SAMPLE / "LocalServer.asset", SAMPLE / "NPC.prefab", SAMPLE / "NpcQuickstart.unity")))


if __name__ == "__main__":
    main()
