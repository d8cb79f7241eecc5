"""What a request's fields mean for the server, beyond what the codec checks.

The codec (protocol/codec.py) has already checked every field's type and its range in SPEC 6.1;
here are the checks that depend on this server (its voices, motions, fps range, limits) and the
translation of fields into motion parameters. Each raises `ProtocolError` with the exact code and
a sentence for a person.
"""

from __future__ import annotations

from dataclasses import dataclass

from avbridge.dialogue.conversation import MAX_PERSONA_CHARS
from avbridge.live.turns import BARGE_IN_POLICIES
from avbridge.motion import MotionParams
from avbridge.motion.emotion import EMOTIONS
from avbridge.protocol import Message, ProtocolError
from avbridge.protocol.codec import format_number
from avbridge.protocol.schema import LIVE_MODES
from avbridge.server.config import ServerConfig

PARAM_FIELDS = ("emotion", "intensity", "expressiveness", "articulation", "blink_rate", "gaze_yaw", "gaze_pitch")
OUTPUT_FIELDS = ("livelink", "livelink_subject", "vmc", "vmc_names", "timecode")
SET_FIELDS = (*PARAM_FIELDS, "thinking", "calibrate", *OUTPUT_FIELDS)


@dataclass
class OpenOptions:
    fps: float
    voice: str
    motion: str
    params: MotionParams
    realtime: bool
    idle: bool
    seed: int | None
    live: str
    barge_in: str
    barge_in_ms: int
    transcripts: bool
    persona: str | None
    memory: int | None


def open_options(config: ServerConfig, m: Message, voices: tuple[str, ...], capabilities: list[str]) -> OpenOptions:
    fps = m.get("fps", config.fps)
    if not config.min_fps <= fps <= config.max_fps:
        raise ProtocolError("bad_field", f"open: fps {format_number(fps)} is outside "
                                         f"{format_number(config.min_fps)}..{format_number(config.max_fps)}")
    voice = m.get("voice", config.voice)
    if voice not in voices:
        raise ProtocolError("bad_field", f"open: unknown voice '{voice}'; available: {', '.join(voices)}")
    motion = m.get("motion", config.motion)
    if motion != config.motion:
        raise ProtocolError("bad_field", f"open: unknown motion '{motion}'; available: {config.motion}")
    params = MotionParams()
    apply_params(params, m, "open")
    live = m.get("live", "off")
    if live not in ("off", *LIVE_MODES):
        raise ProtocolError("bad_field", f"open: unknown live mode '{live}'; expected off, {', '.join(LIVE_MODES)}")
    if live != "off" and "live" not in capabilities:
        raise ProtocolError("bad_field", "open: live sessions need the live extra on the server "
                                         "(pip install 'avbridge[live]')")
    if live == "chat" and "chat" not in capabilities:
        from avbridge.dialogue.models import chat_available
        raise ProtocolError("bad_field", f"open: this server cannot chat: {chat_available(config.llm) or 'no model'}")
    if ("persona" in m.fields or "memory" in m.fields) and live != "chat":
        raise ProtocolError("bad_field", "open: persona and memory belong to chat sessions (live chat)")
    if live == "chat" and m.get("idle") is False:
        raise ProtocolError("bad_field", "open: a chat session needs idle true: its events ride on the idle stream between lines")
    persona = m.get("persona")
    if persona is not None and len(persona) > MAX_PERSONA_CHARS:
        raise ProtocolError("text_too_long", f"open: persona has {len(persona)} characters; the limit is {MAX_PERSONA_CHARS}")
    barge_in = m.get("barge_in", "always")
    if barge_in not in BARGE_IN_POLICIES:
        raise ProtocolError("bad_field", f"open: unknown barge_in policy '{barge_in}'; expected {', '.join(BARGE_IN_POLICIES)}")
    realtime = m.get("realtime", True)
    if live != "off" and not realtime:
        raise ProtocolError("bad_field", "open: a live session runs on the clock; realtime false is not allowed with live")
    return OpenOptions(fps, voice, motion, params, realtime, m.get("idle", True), m.get("seed"), live, barge_in,
                       m.get("barge_in_ms", 300), m.get("transcripts", True), persona, m.get("memory"))


def apply_params(params: MotionParams, m: Message, type_name: str) -> None:
    """Copy the motion fields of `m` into `params` (their ranges were checked by the codec)."""
    if "emotion" in m.fields:
        if m["emotion"] == "auto":
            params.infer_emotion = True     # from each sentence's text (motion/text_emotion.py)
        elif m["emotion"] not in EMOTIONS:
            raise ProtocolError("bad_field", f"{type_name}: unknown emotion '{m['emotion']}'; known: auto, {', '.join(EMOTIONS)}")
        else:
            params.infer_emotion = False
            params.emotion = m["emotion"]
            if "intensity" not in m.fields and params.emotion_intensity == 0:
                params.emotion_intensity = 0.7
    for name, attr in (("intensity", "emotion_intensity"), ("expressiveness", "expressiveness"),
                       ("articulation", "articulation"), ("blink_rate", "blink_rate_per_min")):
        if name in m.fields:
            setattr(params, attr, m[name])
    yaw, pitch = params.gaze_target
    params.gaze_target = (m.get("gaze_yaw", yaw), m.get("gaze_pitch", pitch))


def say_text(config: ServerConfig, m: Message) -> str:
    """The text of a `say` or a `user_text`, checked. Characters are Unicode code points (SPEC 6.1)."""
    text = m["text"]
    if len(text) > config.max_text_chars:
        raise ProtocolError("text_too_long", f"{m.type}: text has {len(text)} characters; the limit is {config.max_text_chars}")
    if not text.strip():
        raise ProtocolError("empty_text", f"{m.type}: text is empty")
    return text
