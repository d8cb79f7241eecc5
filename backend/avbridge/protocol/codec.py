"""Sans-IO codec for protocol v1: `Message` <-> list of ZeroMQ frames (bytes). No sockets here.

A message on the wire is one ZeroMQ multipart message: frame 0 is a msgpack map (the header),
frames 1..n are raw little-endian bulk data. Encoding is canonical (map keys sorted by their UTF-8
bytes, integers in their shortest form, every float as float64), so the same message always gives
the same bytes and implementations can be checked against protocol/vectors. Decoding checks in a
fixed order and raises `ProtocolError` with the code and the exact sentence SPEC.md lists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import msgpack

from avbridge.protocol.schema import (
    HEADER_FIELDS,
    MAX_BULK_BYTES,
    MAX_HEADER_BYTES,
    RANGES,
    SUPPORTED_VERSIONS,
    TYPES,
    USER_FACE_LAYOUT,
    VERSION,
)


class ProtocolError(Exception):
    """A message that cannot be accepted. `code` is one of SPEC.md's error codes, `message` is a
    sentence for a person, `seq` the sequence number of the offending message when it was read."""

    def __init__(self, code: str, message: str, seq: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.seq = seq


@dataclass
class Message:
    type: str
    fields: dict[str, Any] = field(default_factory=dict)
    bulk: list[bytes] = field(default_factory=list)
    seq: int = 0
    version: int = VERSION

    def __getitem__(self, name: str) -> Any:
        return self.fields[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)

    @property
    def session(self) -> str | None:
        return self.fields.get("session")


_KIND_NAMES = {"str": "a string", "uint": "a non-negative integer", "int": "an integer",
               "float": "a number", "bool": "true or false", "strs": "an array of strings",
               "uints": "an array of non-negative integers", "map": "a map with string keys"}


def _is_uint(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**64


def _kind_ok(kind: str, v: Any) -> bool:
    if kind == "str":
        return isinstance(v, str)
    if kind == "uint":
        return _is_uint(v)
    if kind == "int":
        return isinstance(v, int) and not isinstance(v, bool)
    if kind == "float":
        return (isinstance(v, (int, float)) and not isinstance(v, bool)
                and math.isfinite(float(v)))
    if kind == "bool":
        return isinstance(v, bool)
    if kind == "strs":
        return isinstance(v, list) and all(isinstance(x, str) for x in v)
    if kind == "uints":
        return isinstance(v, list) and all(_is_uint(x) for x in v)
    if kind == "map":
        return isinstance(v, dict) and all(isinstance(k, str) for k in v)
    raise AssertionError(kind)


def _canonical(value: Any, kind: str | None = None) -> Any:
    if kind == "float":
        return float(value)
    if isinstance(value, dict):
        return {k: _canonical(value[k]) for k in sorted(value, key=lambda k: k.encode("utf-8"))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def encode(message: Message) -> list[bytes]:
    """Frames for `message`, after checking it against the schema (a bug in the sender raises)."""
    spec = TYPES.get(message.type)
    if spec is None:
        raise ProtocolError("unknown_type", f"unknown message type '{message.type}'")
    header: dict[str, Any] = {"v": message.version, "type": message.type, "seq": message.seq}
    kinds = {**spec.required, **spec.optional}
    for name, value in message.fields.items():
        if name in HEADER_FIELDS:
            raise ValueError(f"field {name!r} belongs to the header; use the Message attributes")
        kind = kinds.get(name)
        if kind is not None and not _kind_ok(kind, value):
            raise ProtocolError("bad_field", f"{message.type}: field '{name}' must be {_KIND_NAMES[kind]}")
        header[name] = _canonical(value, kind)
    for name in spec.required:
        if name not in header:
            raise ProtocolError("missing_field", f"{message.type}: missing field '{name}'")
    if len(message.bulk) != spec.bulk:
        raise ProtocolError("bad_frames", f"{message.type}: expected {spec.bulk} bulk frame(s), got {len(message.bulk)}")
    packed = msgpack.packb(_canonical(header), use_bin_type=True)
    return [packed, *(bytes(b) for b in message.bulk)]


def decode(frames: list[bytes], max_bulk_bytes: int = MAX_BULK_BYTES, sender: str | None = None) -> Message:
    """Parse and validate one message. Raises ProtocolError; never anything else.

    With `sender` ("client" or "server"), a type that only the other side sends is refused
    (unexpected_type) before its fields are checked."""
    if not frames:
        raise ProtocolError("malformed", "empty message: no header frame")
    head = bytes(frames[0])
    if len(head) > MAX_HEADER_BYTES:
        raise ProtocolError("too_large", f"header frame is {len(head)} bytes; the limit is {MAX_HEADER_BYTES}")
    for i, frame in enumerate(frames[1:], start=1):
        if len(frame) > max_bulk_bytes:
            raise ProtocolError("too_large", f"bulk frame {i} is {len(frame)} bytes; the limit is {max_bulk_bytes}")
    header = _unpack(head)
    seq = header.get("seq") if _is_uint(header.get("seq")) else None
    version = _field(header, "v", "uint", "", seq)
    if version not in SUPPORTED_VERSIONS:
        raise ProtocolError("bad_version",
                            f"protocol version {version} is not supported; this peer speaks "
                            + ", ".join(str(v) for v in SUPPORTED_VERSIONS), seq)
    type_name = _field(header, "type", "str", "", seq)
    spec = TYPES.get(type_name)
    if spec is None:
        raise ProtocolError("unknown_type", f"unknown message type '{type_name}'", seq)
    if sender is not None and spec.sender != sender:
        raise ProtocolError("unexpected_type", f"'{type_name}' is sent by {spec.sender}s, not {sender}s", seq)
    seq = _field(header, "seq", "uint", "", seq)
    fields: dict[str, Any] = {}
    ranges = RANGES.get(type_name, {})
    for name, kind in spec.required.items():
        fields[name] = _field(header, name, kind, f"{type_name}: ", seq, ranges.get(name))
    for name, kind in spec.optional.items():
        if name in header:
            fields[name] = _field(header, name, kind, f"{type_name}: ", seq, ranges.get(name))
    # Keys the table does not know are ignored, so that a newer minor revision can add fields.
    bulk = [bytes(b) for b in frames[1:]]
    if len(bulk) != spec.bulk:
        raise ProtocolError("bad_frames", f"{type_name}: expected {spec.bulk} bulk frame(s), got {len(bulk)}", seq)
    if spec.bulk_kind == "s16le" and len(bulk[0]) % 2:
        raise ProtocolError("bad_frames", f"{type_name}: PCM frame has {len(bulk[0])} bytes, not a whole number of int16 samples", seq)
    face_floats = sum(USER_FACE_LAYOUT)
    if type_name == "user_face" and len(bulk[0]) != face_floats * 4:
        raise ProtocolError("bad_frames", f"user_face: bulk frame has {len(bulk[0])} bytes; expected {face_floats * 4} "
                                          f"({face_floats} float32: {USER_FACE_LAYOUT[0]} weights, {USER_FACE_LAYOUT[1]} head pose)", seq)
    if type_name == "frames":
        want = fields["count"] * 63 * 4
        if len(bulk[0]) != want:
            raise ProtocolError("bad_frames", f"frames: bulk frame has {len(bulk[0])} bytes; count {fields['count']} needs {want}", seq)
    return Message(type_name, fields, bulk, seq, version)


def _unpack(head: bytes) -> dict:
    try:
        header = msgpack.unpackb(head, raw=False, strict_map_key=False, use_list=True)
    except UnicodeDecodeError:
        raise ProtocolError("bad_utf8", "header contains a string that is not valid UTF-8") from None
    except msgpack.ExtraData:
        raise ProtocolError("malformed", "header frame holds more than one msgpack value") from None
    except Exception:  # msgpack raises several types for truncated or invalid input
        raise ProtocolError("malformed", "header frame is not valid msgpack") from None
    if not isinstance(header, dict):
        raise ProtocolError("malformed", f"header is {_describe(header)}, not a map")
    if not all(isinstance(k, str) for k in header):
        raise ProtocolError("malformed", "header map keys must be strings")
    return header


def _field(header: dict, name: str, kind: str, prefix: str, seq: int | None,
           limits: tuple[float, float] | None = None) -> Any:
    if name not in header:
        raise ProtocolError("missing_field", f"{prefix}missing field '{name}'", seq)
    value = header[name]
    if not _kind_ok(kind, value):
        raise ProtocolError("bad_field", f"{prefix}field '{name}' must be {_KIND_NAMES[kind]}", seq)
    if limits is not None and not limits[0] <= value <= limits[1]:
        raise ProtocolError("bad_field", f"{prefix}{name} {format_number(value)} is outside "
                                         f"{format_number(limits[0])}..{format_number(limits[1])}", seq)
    return float(value) if kind == "float" else value


def format_number(value: float) -> str:
    """A number in an error sentence: integers without a point, others in the shortest form that
    reads back to the same float (what C#'s "R" format also writes for these magnitudes)."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _describe(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (bytes, bytearray)):
        return "binary data"
    if isinstance(value, list):
        return "an array"
    return "an extension value"
