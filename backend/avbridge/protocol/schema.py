"""The message table of protocol v1: every type, who sends it, its fields and its bulk frames.

protocol/SPEC.md is the authority; this table is its executable form and the codec validates
against it. Field kinds:
    str    msgpack str (valid UTF-8)
    uint   non-negative integer (< 2**64)
    int    signed integer
    float  float64 on the wire; receivers also accept an integer
    bool   true / false
    strs   array of str
    uints  array of uint
    map    map with str keys (contents checked by the receiver, not the codec)
"""

from __future__ import annotations

from dataclasses import dataclass, field

VERSION = 1
SUPPORTED_VERSIONS = (1,)

MAX_HEADER_BYTES = 256 * 1024
"""A header frame above this size is refused (too_large) before it is parsed. Headers carry the
text of `say`, so the limit leaves room for text well past any server's max_text_chars."""
MAX_BULK_BYTES = 4 * 1024 * 1024
"""Default limit on one bulk frame; a peer may announce a different one in welcome."""

CLIENT, SERVER = "client", "server"


@dataclass(frozen=True)
class MessageType:
    name: str
    sender: str
    required: dict[str, str] = field(default_factory=dict)
    optional: dict[str, str] = field(default_factory=dict)
    bulk: int = 0             # exact number of bulk frames after the header
    bulk_kind: str = ""       # "s16le", "f32le", or "bytes" (an encoded file or image: no size rule)


def _t(name: str, sender: str, required: dict | None = None, optional: dict | None = None,
       bulk: int = 0, bulk_kind: str = "") -> MessageType:
    return MessageType(name, sender, required or {}, optional or {}, bulk, bulk_kind)


_STREAM = {"session": "str", "utterance": "str", "time": "float"}

TYPES: dict[str, MessageType] = {t.name: t for t in (
    # -- requests (client -> server) ---------------------------------------------------------
    _t("hello", CLIENT, {"versions": "uints", "client": "str"}, {"capabilities": "strs"}),
    _t("open", CLIENT, {}, {"fps": "float", "voice": "str", "motion": "str", "seed": "uint",
                            "realtime": "bool", "idle": "bool",
                            "emotion": "str", "intensity": "float", "expressiveness": "float",
                            "live": "str", "barge_in": "str", "barge_in_ms": "uint", "transcripts": "bool",
                            "persona": "str", "memory": "uint"}),
    _t("close", CLIENT, {"session": "str"}),
    _t("say", CLIENT, {"session": "str", "text": "str"},
       {"utterance": "str", "emotion": "str", "intensity": "float"}),
    _t("speak_audio", CLIENT, {"session": "str", "utterance": "str", "sample_rate": "uint",
                               "offset": "uint", "final": "bool"}, {"text": "str"},
       bulk=1, bulk_kind="s16le"),
    _t("interrupt", CLIENT, {"session": "str"}, {"utterance": "str"}),
    _t("set", CLIENT, {"session": "str"}, {"emotion": "str", "intensity": "float",
                                           "expressiveness": "float", "articulation": "float",
                                           "blink_rate": "float", "gaze_yaw": "float", "gaze_pitch": "float",
                                           "thinking": "bool", "calibrate": "float",
                                           "livelink": "strs", "livelink_subject": "str", "vmc": "strs",
                                           "vmc_names": "str", "timecode": "str"}),
    _t("user_audio", CLIENT, {"session": "str", "sample_rate": "uint", "offset": "uint"},
       bulk=1, bulk_kind="s16le"),
    _t("user_text", CLIENT, {"session": "str", "text": "str"}),
    _t("user_face", CLIENT, {"session": "str", "time": "float"}, {"tracked": "bool"},
       bulk=1, bulk_kind="f32le"),
    _t("ping", CLIENT, {"client_time": "float"}, {"session": "str"}),
    _t("portrait", CLIENT, {"session": "str"}, {"size": "uint", "fps": "float", "format": "str", "quality": "uint"},
       bulk=1, bulk_kind="bytes"),
    # -- replies (server -> client) ----------------------------------------------------------
    _t("welcome", SERVER, {"re": "uint", "version": "uint", "server": "str", "capabilities": "strs",
                           "blendshapes": "strs", "fps": "float", "sample_rate": "uint",
                           "audio_format": "str", "heartbeat_ms": "uint", "max_bulk_bytes": "uint",
                           "max_text_chars": "uint", "voices": "strs", "motions": "strs"},
       {"max_sessions_per_client": "uint", "max_queued_lines": "uint", "max_backlog_bytes": "uint",
        "liveness_timeout_ms": "uint", "lead_ms": "uint", "sessions": "strs"}),
    _t("opened", SERVER, {"re": "uint", "session": "str", "fps": "float", "sample_rate": "uint",
                          "voice": "str", "motion": "str"}),
    _t("closed", SERVER, {"re": "uint", "session": "str"}),
    _t("ok", SERVER, {"re": "uint"}, {"session": "str", "utterance": "str"}),
    _t("error", SERVER, {"code": "str", "message": "str"}, {"re": "uint", "session": "str"}),
    _t("pong", SERVER, {"re": "uint", "client_time": "float", "server_time": "float"},
       {"session": "str", "session_time": "float"}),
    # -- stream (server -> client, mirrored on the XPUB) -------------------------------------
    _t("stream", SERVER, {**_STREAM, "re": "uint", "fps": "float", "sample_rate": "uint",
                          "audio_format": "str", "audio": "bool", "blendshapes": "strs",
                          "frame_layout": "uints"}, {"text": "str", "idle": "bool"}),
    _t("audio", SERVER, {**_STREAM, "offset": "uint"}, bulk=1, bulk_kind="s16le"),
    _t("frames", SERVER, {**_STREAM, "first": "uint", "count": "uint"}, bulk=1, bulk_kind="f32le"),
    _t("event", SERVER, {**_STREAM, "name": "str"},
       {"text": "str", "phoneme": "str", "viseme": "str", "end": "float", "final": "bool"}),
    _t("end", SERVER, {**_STREAM, "status": "str", "frames": "uint", "samples": "uint"},
       {"reason": "str", "re": "uint"}),
    _t("video", SERVER, {**_STREAM, "index": "uint", "fps": "float", "format": "str", "width": "uint", "height": "uint"},
       bulk=1, bulk_kind="bytes"),
)}

RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "open": {"fps": (1, 240), "intensity": (0, 1), "expressiveness": (0, 2), "barge_in_ms": (0, 10_000),
             "memory": (0, 50)},
    "say": {"intensity": (0, 1)},
    "speak_audio": {"sample_rate": (8000, 96000)},
    "set": {"intensity": (0, 1), "expressiveness": (0, 2), "articulation": (0.2, 2), "blink_rate": (0, 60),
            "gaze_yaw": (-0.6, 0.6), "gaze_pitch": (-0.6, 0.6), "calibrate": (0.2, 10)},
    "user_audio": {"sample_rate": (8000, 96000)},
    "portrait": {"size": (64, 1024), "fps": (1, 60), "quality": (1, 100)},
}
"""Inclusive value ranges of request fields (SPEC section 6.1). A decoder checks each right after
the field's type, so that a value out of range is `bad_field` before the bulk frames are counted
(SPEC section 7, steps 7 and 8). A server may accept less (a narrower fps range), never more."""

HEADER_FIELDS = ("v", "type", "seq")
"""Present in every header, in this order of checking."""

EVENT_NAMES = ("utterance_start", "utterance_end", "word", "phoneme", "emotion",
               # live sessions (section 8.6)
               "state", "user_speech_start", "user_speech_end", "transcript", "barge_in", "backchannel",
               # chat sessions (section 8.7)
               "reply", "reply_error")
LIVE_MODES = ("telepresence", "listen", "chat")
USER_FACE_LAYOUT = (52, 7)
"""float32 values in a user_face frame: ARKit weights, head pose (quaternion xyzw + translation)."""
END_STATUSES = ("done", "interrupted", "error")
VIDEO_FORMATS = ("jpeg", "rgb")
"""`video` frames: a JPEG file, or width x height x 3 bytes of RGB, rows top to bottom."""
FRAME_LAYOUT = (52, 7, 4)
"""float32 values per frame: blendshapes, head pose (quaternion xyzw + translation), gaze."""
