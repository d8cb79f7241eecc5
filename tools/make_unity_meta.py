"""Write a Unity .meta file beside every file and folder of unity_plugin/ that lacks one.

A package added by git URL is read-only to Unity, which ignores assets without .meta files; the
GUIDs here come from each path, so they never change and never collide between checkouts.
Folders ending in "~" (Samples~, Documentation~) are not imported and get none.
tests/test_unity_package.py fails when a .meta is missing.

    python tools/make_unity_meta.py
"""

from __future__ import annotations

import hashlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "unity_plugin"

_IMPORTERS = {
    ".cs": "MonoImporter:\n  externalObjects: {}\n  serializedVersion: 2\n  defaultReferences: []\n"
           "  executionOrder: 0\n  icon: {instanceID: 0}\n  userData: \n  assetBundleName: \n  assetBundleVariant: \n",
    ".asmdef": "AssemblyDefinitionImporter:\n  externalObjects: {}\n  userData: \n  assetBundleName: \n  assetBundleVariant: \n",
}
_TEXT = "TextScriptImporter:\n  externalObjects: {}\n  userData: \n  assetBundleName: \n  assetBundleVariant: \n"
_FOLDER = "folderAsset: yes\nDefaultImporter:\n  externalObjects: {}\n  userData: \n  assetBundleName: \n  assetBundleVariant: \n"


def guid(relative: str) -> str:
    return hashlib.md5(f"avbridge-unity/{relative}".encode()).hexdigest()


def wanted() -> dict[Path, str]:
    """Every .meta the package needs, with its content."""
    metas: dict[Path, str] = {}
    for path in sorted(PACKAGE.rglob("*")):
        relative = path.relative_to(PACKAGE)
        if path.suffix == ".meta" or any(part.endswith("~") for part in relative.parts):
            continue
        body = _FOLDER if path.is_dir() else _IMPORTERS.get(path.suffix, _TEXT)
        metas[path.with_name(path.name + ".meta")] = f"fileFormatVersion: 2\nguid: {guid(relative.as_posix())}\n{body}"
    return metas


if __name__ == "__main__":
    written = 0
    for meta, content in wanted().items():
        if not meta.exists() or meta.read_text() != content:
            meta.write_text(content)
            written += 1
    print(f"{written} .meta files written")
