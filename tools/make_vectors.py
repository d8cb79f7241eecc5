"""Write protocol/vectors/valid.json and invalid.json from the Python codec.

Run after a deliberate protocol change, review the diff, commit. The tests (and the C# tests) check
that every implementation encodes each valid message to exactly these bytes, decodes them back,
and refuses each invalid byte string with exactly the listed code and message.

    python tools/make_vectors.py
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import msgpack

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backend"))

from avbridge.core.arkit import ARKIT_BLENDSHAPES  # noqa: E402
from avbridge.protocol import Message, ProtocolError, decode, encode  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "protocol" / "vectors"


def pack(header: dict) -> bytes:
    return msgpack.packb(header, use_bin_type=True)


def valid_messages() -> list[tuple[str, Message]]:
    pcm = struct.pack("<4h", 0, 1000, -1000, 32767)
    face = struct.pack("<59f", *([0.0] * 17 + [0.4] + [0.0] * 34 + [0, 0.0871557, 0, 0.9961947, 0, 0, 0.02]))
    frame = struct.pack("<63f", *([0.0] * 17 + [0.5] + [0.0] * 34 + [0, 0, 0, 1, 0, 0, 0] + [0.1, -0.05, 0.1, -0.05]))
    return [
        ("hello", Message("hello", {"versions": [1], "client": "unity-npc"}, seq=1)),
        ("hello_with_capabilities", Message("hello", {"versions": [1], "client": "c", "capabilities": ["speak_audio"]}, seq=1)),
        ("welcome", Message("welcome", {"re": 1, "version": 1, "server": "avbridge 0.1.0",
                                        "capabilities": ["say", "speak_audio"], "blendshapes": list(ARKIT_BLENDSHAPES),
                                        "fps": 60.0, "sample_rate": 22050, "audio_format": "s16le",
                                        "heartbeat_ms": 1000, "max_bulk_bytes": 4194304, "max_text_chars": 10000,
                                        "voices": ["piper", "espeak"], "motions": ["procedural"]}, seq=1)),
        ("open_defaults", Message("open", {}, seq=2)),
        ("open_options", Message("open", {"fps": 30.0, "voice": "espeak", "realtime": False, "seed": 7}, seq=2)),
        ("opened", Message("opened", {"re": 2, "session": "a1b2c3", "fps": 60.0, "sample_rate": 22050,
                                      "voice": "piper", "motion": "procedural"}, seq=2)),
        ("say", Message("say", {"session": "a1b2c3", "text": "Hello there."}, seq=3)),
        ("say_unicode_emotion", Message("say", {"session": "a1b2c3", "text": "Grüße, 世界!", "emotion": "happy",
                                                "intensity": 0.5, "utterance": "line-42"}, seq=4)),
        ("speak_audio", Message("speak_audio", {"session": "a1b2c3", "utterance": "vo1", "sample_rate": 48000,
                                                "offset": 0, "final": False}, [pcm], seq=5)),
        ("speak_audio_final_empty", Message("speak_audio", {"session": "a1b2c3", "utterance": "vo1",
                                                            "sample_rate": 48000, "offset": 4, "final": True}, [b""], seq=6)),
        ("interrupt", Message("interrupt", {"session": "a1b2c3"}, seq=7)),
        ("set", Message("set", {"session": "a1b2c3", "emotion": "sad", "intensity": 0.8, "expressiveness": 1.5}, seq=8)),
        ("ping", Message("ping", {"client_time": 12.5}, seq=9)),
        ("pong", Message("pong", {"re": 9, "client_time": 12.5, "server_time": 100.25, "session": "a1b2c3",
                                  "session_time": 3.0}, seq=9)),
        ("ok", Message("ok", {"re": 3, "session": "a1b2c3", "utterance": "u1"}, seq=3)),
        ("error", Message("error", {"code": "unknown_session", "message": "no session zz", "re": 10, "session": "zz"}, seq=10)),
        ("closed", Message("closed", {"re": 11, "session": "a1b2c3"}, seq=11)),
        ("close", Message("close", {"session": "a1b2c3"}, seq=11)),
        ("stream", Message("stream", {"session": "a1b2c3", "utterance": "u1", "time": 1.5, "re": 3, "fps": 60.0,
                                      "sample_rate": 22050, "audio_format": "s16le", "audio": True,
                                      "blendshapes": list(ARKIT_BLENDSHAPES), "frame_layout": [52, 7, 4],
                                      "text": "Hello there."}, seq=4)),
        ("stream_idle", Message("stream", {"session": "a1b2c3", "utterance": "idle3", "time": 4.1, "re": 0, "fps": 60.0,
                                           "sample_rate": 22050, "audio_format": "s16le", "audio": False,
                                           "blendshapes": list(ARKIT_BLENDSHAPES), "frame_layout": [52, 7, 4],
                                           "idle": True}, seq=4)),
        ("audio", Message("audio", {"session": "a1b2c3", "utterance": "u1", "time": 1.5, "offset": 0}, [pcm], seq=5)),
        ("frames", Message("frames", {"session": "a1b2c3", "utterance": "u1", "time": 1.5, "first": 0, "count": 1},
                           [frame], seq=6)),
        ("event_word", Message("event", {"session": "a1b2c3", "utterance": "u1", "time": 1.55, "name": "word",
                                         "text": "Hello", "end": 1.9}, seq=7)),
        ("event_phoneme", Message("event", {"session": "a1b2c3", "utterance": "u1", "time": 1.6, "name": "phoneme",
                                            "phoneme": "ə", "viseme": "E", "end": 1.65}, seq=8)),
        ("open_live_listen", Message("open", {"live": "listen", "barge_in": "after", "barge_in_ms": 250,
                                              "transcripts": True}, seq=2)),
        ("open_live_chat", Message("open", {"live": "chat", "persona": "You are Ada, a museum guide.", "memory": 6}, seq=2)),
        ("user_text", Message("user_text", {"session": "a1b2c3", "text": "What is the best month of the year?"}, seq=18)),
        ("event_reply_piece", Message("event", {"session": "a1b2c3", "utterance": "idle2", "time": 7.2, "name": "reply",
                                                "text": " May", "final": False}, seq=15)),
        ("event_reply_error", Message("event", {"session": "a1b2c3", "utterance": "idle2", "time": 7.5,
                                                "name": "reply_error", "text": "the model endpoint did not answer"}, seq=16)),
        ("user_audio", Message("user_audio", {"session": "a1b2c3", "sample_rate": 16000, "offset": 320}, [pcm], seq=12)),
        ("user_face", Message("user_face", {"session": "a1b2c3", "time": 0.5}, [face], seq=13)),
        ("user_face_lost", Message("user_face", {"session": "a1b2c3", "time": 0.55, "tracked": False}, [face], seq=14)),
        ("set_calibrate", Message("set", {"session": "a1b2c3", "calibrate": 2.0}, seq=15)),
        ("set_outputs", Message("set", {"session": "a1b2c3", "livelink": ["127.0.0.1:11111"], "livelink_subject": "Guard",
                                        "vmc": ["127.0.0.1:39539"], "vmc_names": "vrm1", "timecode": "14:03:27:12"}, seq=16)),
        ("event_state", Message("event", {"session": "a1b2c3", "utterance": "idle2", "time": 5.0, "name": "state",
                                          "text": "listening"}, seq=11)),
        ("event_transcript_partial", Message("event", {"session": "a1b2c3", "utterance": "idle2", "time": 6.0,
                                                       "name": "transcript", "text": "so when I", "final": False}, seq=12)),
        ("event_barge_in", Message("event", {"session": "a1b2c3", "utterance": "u1", "time": 1.7, "name": "barge_in"}, seq=13)),
        ("portrait", Message("portrait", {"session": "a1b2c3", "size": 512, "fps": 25.0, "format": "jpeg", "quality": 85},
                             [b"\x89PNG\r\n\x1a\n"], seq=17)),
        ("video_jpeg", Message("video", {"session": "a1b2c3", "utterance": "u1", "time": 1.54, "index": 1, "fps": 25.0,
                                         "format": "jpeg", "width": 512, "height": 512}, [b"\xff\xd8\xff\xe0"], seq=14)),
        ("end_done", Message("end", {"session": "a1b2c3", "utterance": "u1", "time": 2.3, "status": "done",
                                     "frames": 48, "samples": 17640, "re": 3}, seq=9)),
        ("end_interrupted", Message("end", {"session": "a1b2c3", "utterance": "u1", "time": 1.8, "status": "interrupted",
                                            "frames": 18, "samples": 6615, "reason": "interrupted by client", "re": 7}, seq=10)),
    ]


def invalid_cases() -> list[tuple[str, list[bytes]]]:
    say = {"v": 1, "type": "say", "seq": 3, "session": "s1", "text": "hi"}
    return [
        ("no_frames", []),
        ("empty_header", [b""]),
        ("truncated_map", [pack(say)[:-3]]),
        ("not_msgpack", [b"\xc1"]),
        ("trailing_bytes", [pack(say) + b"\x00"]),
        ("header_is_array", [pack([1, "say", 3])]),
        ("header_is_nil", [b"\xc0"]),
        ("integer_key", [pack({1: 1, "type": "say"})]),
        ("invalid_utf8_value", [b"\x85\xa1v\x01\xa4type\xa3say\xa3seq\x03\xa7session\xa2s1\xa4text\xa2\xff\xfe"]),
        ("missing_version", [pack({"type": "say", "seq": 1})]),
        ("version_is_string", [pack({"v": "1", "type": "say", "seq": 1})]),
        ("version_2", [pack({**say, "v": 2})]),
        ("missing_type", [pack({"v": 1, "seq": 1})]),
        ("type_is_int", [pack({"v": 1, "type": 5, "seq": 1})]),
        ("unknown_type", [pack({"v": 1, "type": "dance", "seq": 1})]),
        ("missing_seq", [pack({"v": 1, "type": "ping", "client_time": 1.0})]),
        ("negative_seq", [pack({"v": 1, "type": "ping", "seq": -1, "client_time": 1.0})]),
        ("say_missing_text", [pack({"v": 1, "type": "say", "seq": 3, "session": "s1"})]),
        ("say_text_is_int", [pack({**say, "text": 5})]),
        ("say_text_is_binary", [pack({**say, "text": b"hi"})]),
        ("ping_time_is_bool", [pack({"v": 1, "type": "ping", "seq": 1, "client_time": True})]),
        ("ping_time_is_nan", [pack({"v": 1, "type": "ping", "seq": 1, "client_time": float("nan")})]),
        ("hello_versions_not_array", [pack({"v": 1, "type": "hello", "seq": 1, "versions": 1, "client": "x"})]),
        ("say_with_bulk", [pack(say), b"\x00\x00"]),
        ("speak_audio_without_bulk", [pack({"v": 1, "type": "speak_audio", "seq": 1, "session": "s1", "utterance": "u",
                                            "sample_rate": 16000, "offset": 0, "final": True})]),
        ("speak_audio_odd_bytes", [pack({"v": 1, "type": "speak_audio", "seq": 1, "session": "s1", "utterance": "u",
                                         "sample_rate": 16000, "offset": 0, "final": True}), b"\x00\x01\x02"]),
        ("user_audio_odd_bytes", [pack({"v": 1, "type": "user_audio", "seq": 1, "session": "s1", "sample_rate": 16000,
                                        "offset": 0}), b"\x00\x01\x02"]),
        ("user_audio_missing_offset", [pack({"v": 1, "type": "user_audio", "seq": 1, "session": "s1",
                                             "sample_rate": 16000}), b"\x00\x00"]),
        ("user_face_short", [pack({"v": 1, "type": "user_face", "seq": 1, "session": "s1", "time": 0.0}), b"\x00" * 40]),
        ("open_live_is_bool", [pack({"v": 1, "type": "open", "seq": 1, "live": True})]),
        ("open_memory_out_of_range", [pack({"v": 1, "type": "open", "seq": 1, "live": "chat", "memory": 51})]),
        ("user_text_missing_text", [pack({"v": 1, "type": "user_text", "seq": 1, "session": "s1"})]),
        ("frames_wrong_size", [pack({"v": 1, "type": "frames", "seq": 1, "session": "s1", "utterance": "u",
                                     "time": 0.0, "first": 0, "count": 2}), b"\x00" * 252]),
        # A value out of range is found at step 7, before the bulk frames are counted (step 8).
        ("speak_audio_rate_out_of_range_without_bulk", [pack({"v": 1, "type": "speak_audio", "seq": 1, "session": "s1",
                                                              "utterance": "u", "sample_rate": 5, "offset": 0, "final": True})]),
        ("portrait_without_image", [pack({"v": 1, "type": "portrait", "seq": 1, "session": "s1"})]),
        ("portrait_size_out_of_range", [pack({"v": 1, "type": "portrait", "seq": 1, "session": "s1", "size": 4096}), b"\x89PNG"]),
        ("video_missing_index", [pack({"v": 1, "type": "video", "seq": 1, "session": "s1", "utterance": "u", "time": 0.0,
                                       "fps": 25.0, "format": "jpeg", "width": 8, "height": 8}), b"\xff\xd8"]),
        ("open_fps_0_with_bulk", [pack({"v": 1, "type": "open", "seq": 1, "fps": 0.0}), b"\x00\x00"]),
        ("set_livelink_is_str", [pack({"v": 1, "type": "set", "seq": 1, "session": "s1", "livelink": "127.0.0.1:11111"})]),
        ("set_gaze_out_of_range", [pack({"v": 1, "type": "set", "seq": 1, "session": "s1", "gaze_yaw": 0.75})]),
    ]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    valid = []
    for name, message in valid_messages():
        frames = encode(message)
        assert decode(frames) == message, name
        valid.append({"name": name, "type": message.type, "seq": message.seq, "fields": message.fields,
                      "frames": [f.hex() for f in frames]})
    # Decoders accept any key order and integer-valued floats; encoders never write them.
    valid.append({"name": "decode_only_unsorted_keys_and_int_float", "decode_only": True, "type": "ping", "seq": 2,
                  "fields": {"client_time": 3.0},
                  "frames": [pack({"type": "ping", "seq": 2, "client_time": 3, "v": 1, "x-future": [1, 2]}).hex()]})
    invalid = []
    for name, frames in invalid_cases():
        try:
            decode(frames)
        except ProtocolError as exc:
            invalid.append({"name": name, "frames": [f.hex() for f in frames],
                            "error": {"code": exc.code, "message": exc.message}})
        else:
            raise SystemExit(f"invalid case {name} decoded without error")
    header = {"about": "avbridge protocol v1 test vectors; see protocol/SPEC.md section 9", "version": 1}
    (OUT / "valid.json").write_text(json.dumps({**header, "cases": valid}, indent=1, ensure_ascii=False) + "\n")
    (OUT / "invalid.json").write_text(json.dumps({**header, "cases": invalid}, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {len(valid)} valid and {len(invalid)} invalid cases to {OUT}")


if __name__ == "__main__":
    main()
