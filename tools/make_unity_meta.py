"""Write a Unity .meta file beside every file and folder of unity_plugin/ that lacks one.

A package added by git URL is read-only to Unity, which ignores assets without .meta files. A new
.meta gets a GUID made from its path (so two checkouts agree), and from then on the .meta is the
GUID's home: an existing .meta is never rewritten, so a script moved together with its .meta keeps
its GUID and the scenes and prefabs that use it keep their components. Samples~ gets .meta files
too (Unity copies them with the sample, and the sample's scene and prefab refer to its scripts by
GUID); Documentation~ does not. tests/test_unity_package.py fails when a .meta is missing or two
share a GUID.

    python tools/make_unity_meta.py
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "unity_plugin"

_TAIL = "  externalObjects: {}\n  userData: \n  assetBundleName: \n  assetBundleVariant: \n"
_IMPORTERS = {
    ".cs": "MonoImporter:\n  externalObjects: {}\n  serializedVersion: 2\n  defaultReferences: []\n"
           "  executionOrder: 0\n  icon: {instanceID: 0}\n  userData: \n  assetBundleName: \n  assetBundleVariant: \n",
    ".asmdef": "AssemblyDefinitionImporter:\n" + _TAIL,
    ".unity": "DefaultImporter:\n" + _TAIL,
    ".prefab": "PrefabImporter:\n" + _TAIL,
    ".asset": "NativeFormatImporter:\n  externalObjects: {}\n  mainObjectFileID: 11400000\n  userData: \n  assetBundleName: \n  assetBundleVariant: \n",
}
_BY_NAME = {"package.json": "PackageManifestImporter:\n" + _TAIL}
_TEXT = "TextScriptImporter:\n" + _TAIL
_FOLDER = "folderAsset: yes\nDefaultImporter:\n" + _TAIL
_GUID = re.compile(r"^guid: ([0-9a-f]{32})$", re.MULTILINE)


def guid(relative: str) -> str:
    return hashlib.md5(f"avbridge-unity/{relative}".encode()).hexdigest()


def _skipped(relative: Path) -> bool:
    return any(part.endswith("~") and part != "Samples~" for part in relative.parts) or relative.parts[0] == "Samples~" and len(relative.parts) == 1


def wanted(package: Path = PACKAGE) -> dict[Path, str]:
    """The .meta a new file or folder would get, with its content."""
    metas: dict[Path, str] = {}
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(package)
        if path.suffix == ".meta" or _skipped(relative):
            continue
        body = _FOLDER if path.is_dir() else _BY_NAME.get(path.name) or _IMPORTERS.get(path.suffix, _TEXT)
        metas[path.with_name(path.name + ".meta")] = f"fileFormatVersion: 2\nguid: {guid(relative.as_posix())}\n{body}"
    return metas


def guid_of(meta: Path) -> str | None:
    found = _GUID.search(meta.read_text())
    return found.group(1) if found else None


def write_missing(package: Path = PACKAGE) -> int:
    written = 0
    for meta, content in wanted(package).items():
        if not meta.exists():
            meta.write_text(content)
            written += 1
    return written


if __name__ == "__main__":
    print(f"{write_missing()} .meta files written")
