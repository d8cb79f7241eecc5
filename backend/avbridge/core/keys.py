"""CURVE key files (z85 certificates as pyzmq's `zmq.auth` writes them): `NAME.key` holds the
public key, to hand out; `NAME.key_secret` holds both, to keep. Shared by the server, the Python
client and `avbridge keys`."""

from __future__ import annotations

from pathlib import Path


class KeyFileError(ValueError):
    """A key file that cannot be used; the sentence says why."""


def make_keys(out_dir: Path, name: str) -> tuple[Path, Path]:
    """Write NAME.key (public, to hand out) and NAME.key_secret (keep it) into `out_dir`."""
    import zmq.auth
    out_dir.mkdir(parents=True, exist_ok=True)
    public, secret = zmq.auth.create_certificates(str(out_dir), name)
    return Path(public), Path(secret)


def _load(path: str | Path) -> tuple[bytes, bytes | None]:
    import zmq.auth
    path = Path(path)
    if not path.is_file():
        raise KeyFileError(f"{path}: no such key file (make one with `avbridge keys`)")
    try:
        return zmq.auth.load_certificate(str(path))
    except (ValueError, OSError) as exc:
        raise KeyFileError(f"{path}: not a CURVE certificate ({exc})") from exc


def load_secret(path: str | Path) -> tuple[bytes, bytes]:
    """(public, secret) of a NAME.key_secret file."""
    public, secret = _load(path)
    if not secret:
        raise KeyFileError(f"{path}: holds only a public key; give the .key_secret file")
    return public, secret


def load_public(path: str | Path) -> bytes:
    """The public key of a NAME.key (or NAME.key_secret) file."""
    return _load(path)[0]
