"""Live Link Face packets: how an ARKit face reaches Unreal (MetaHuman included) with no plugin.

Unreal's Live Link Face source listens for UDP datagrams (port 11111 by default), one a frame, in
the layout the iPhone app sends (version 6, big-endian; ../shared/data/README.md, checked against
the recorded packets in tests/data):

    uint8    version (6)
    int32    length, then UTF-8 device id        (identifies the sender)
    int32    length, then UTF-8 subject name     (one Live Link subject: one avatar)
    int32    frame number, float32 sub-frame     (the frame's timecode, in frames of the rate below)
    int32    rate numerator, int32 denominator   (60/1)
    uint8    value count (61)
    float32  x 61: the 52 blendshapes in Live Link Face's order (JawRight before JawLeft), then head
             yaw, pitch, roll, left eye yaw, pitch, roll, right eye yaw, pitch, roll (radians)

What the packet cannot carry: head translation (the avatar's lean and bob stay in the engine's
ZeroMQ stream and the CSV takes), audio (docs/unreal.md says how to play it alongside), and eye
roll (always 0 here).

Sans-IO: bytes in, bytes out; server/outputs.py does the sockets and the pacing.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from avbridge.core.arkit import ARKIT_BLENDSHAPES, LIVE_LINK_FACE_ORDER
from avbridge.core.rotation import quaternion_to_yaw_pitch_roll

VERSION = 6
VALUE_COUNT = 61
DEFAULT_PORT = 11111
_ORDER = np.array([ARKIT_BLENDSHAPES.index(name) for name in LIVE_LINK_FACE_ORDER])
_MAX_NAME_BYTES = 255      # a subject name is a label on the Unreal side; keep datagrams small


class PacketError(ValueError):
    """Bytes that are not a Live Link Face packet; the message says which field and why."""


@dataclass(frozen=True)
class LiveLinkPacket:
    device_id: str
    subject: str
    frame_number: int
    sub_frame: float
    rate: tuple[int, int]
    values: np.ndarray           # (61,) float32, in the packet's order

    def encode(self) -> bytes:
        device, subject = name_bytes(self.device_id, "device id"), name_bytes(self.subject, "subject name")
        values = np.asarray(self.values, ">f4").reshape(-1)
        if len(values) != VALUE_COUNT:
            raise PacketError(f"a packet carries {VALUE_COUNT} values, not {len(values)}")
        return b"".join([
            struct.pack(">Bi", VERSION, len(device)), device,
            struct.pack(">i", len(subject)), subject,
            struct.pack(">ifiiB", self.frame_number, self.sub_frame, self.rate[0], self.rate[1], VALUE_COUNT),
            values.tobytes()])


def name_bytes(text: str, what: str) -> bytes:
    """A device id or subject name as the packet carries it; PacketError if it cannot be one."""
    raw = text.encode("utf-8")
    if not raw or len(raw) > _MAX_NAME_BYTES:
        raise PacketError(f"the {what} must be 1 to {_MAX_NAME_BYTES} bytes of UTF-8, not {len(raw)}")
    return raw


def decode(data: bytes) -> LiveLinkPacket:
    """A packet from a datagram; PacketError says what is wrong with one that is not."""
    at = 0

    def take(n: int, what: str) -> bytes:
        nonlocal at
        if at + n > len(data):
            raise PacketError(f"the packet ends inside its {what} (byte {at} of {len(data)})")
        at += n
        return data[at - n:at]

    (version,) = struct.unpack(">B", take(1, "version"))
    if version != VERSION:
        raise PacketError(f"version {version}: only version {VERSION} is understood")
    names = []
    for what in ("device id", "subject name"):
        (length,) = struct.unpack(">i", take(4, f"{what} length"))
        if not 0 < length <= _MAX_NAME_BYTES:
            raise PacketError(f"the {what} length {length} is not 1..{_MAX_NAME_BYTES}")
        try:
            names.append(take(length, what).decode("utf-8"))
        except UnicodeDecodeError:
            raise PacketError(f"the {what} is not UTF-8") from None
    frame, sub, numerator, denominator, count = struct.unpack(">ifiiB", take(17, "frame time and rate"))
    if count != VALUE_COUNT:
        raise PacketError(f"{count} values: a version {VERSION} packet has {VALUE_COUNT}")
    values = np.frombuffer(take(4 * count, "values"), ">f4").astype(np.float32)
    if at != len(data):
        raise PacketError(f"{len(data) - at} bytes after the values")
    return LiveLinkPacket(names[0], names[1], frame, sub, (numerator, denominator), values)


def frame_values(blendshapes: np.ndarray, head: np.ndarray, gaze: np.ndarray) -> np.ndarray:
    """(T, 52) ARKit weights, (T, 7) head pose, (T, 4) gaze (our frame layout, SPEC 8.3) -> (T, 61)
    float64: the values of a packet and of a Live Link Face CSV row (takes/write.py). Head
    yaw/pitch/roll are the Y-X-Z angles of the head quaternion, in radians; eyes: yaw and pitch of
    each, roll 0."""
    b = np.asarray(blendshapes).reshape(-1, 52)
    angles = quaternion_to_yaw_pitch_roll(np.asarray(head, np.float64).reshape(-1, 7)[:, :4])
    g = np.asarray(gaze).reshape(-1, 4)
    zero = np.zeros(len(b))
    eyes = np.column_stack([g[:, 0], g[:, 1], zero, g[:, 2], g[:, 3], zero])
    return np.column_stack([b[:, _ORDER], angles, eyes]).astype(np.float64)
