"""The codec against the shared vectors, plus fuzzing: decode must raise ProtocolError and nothing
else, whatever the bytes."""

import json
from pathlib import Path

import msgpack
import pytest
from avbridge.protocol import Message, ProtocolError, decode, encode
from avbridge.protocol.schema import TYPES
from hypothesis import given, settings
from hypothesis import strategies as st

VECTORS = Path(__file__).resolve().parents[1] / "protocol" / "vectors"
VALID = json.loads((VECTORS / "valid.json").read_text())["cases"]
INVALID = json.loads((VECTORS / "invalid.json").read_text())["cases"]


@pytest.mark.parametrize("case", VALID, ids=[c["name"] for c in VALID])
def test_valid_vector(case):
    frames = [bytes.fromhex(f) for f in case["frames"]]
    message = decode(frames)
    assert message.type == case["type"] and message.seq == case["seq"]
    assert message.fields == case["fields"]
    if not case.get("decode_only"):
        assert encode(Message(case["type"], case["fields"], message.bulk, case["seq"])) == frames


@pytest.mark.parametrize("case", INVALID, ids=[c["name"] for c in INVALID])
def test_invalid_vector(case):
    with pytest.raises(ProtocolError) as caught:
        decode([bytes.fromhex(f) for f in case["frames"]])
    assert (caught.value.code, caught.value.message) == (case["error"]["code"], case["error"]["message"])


def test_every_message_type_has_a_vector():
    assert {c["type"] for c in VALID} == set(TYPES)


def test_bulk_frame_over_the_limit():
    header = msgpack.packb({"v": 1, "type": "speak_audio", "seq": 1, "session": "s", "utterance": "u",
                            "sample_rate": 16000, "offset": 0, "final": True})
    with pytest.raises(ProtocolError) as caught:
        decode([header, b"\x00" * 1001], max_bulk_bytes=1000)
    assert caught.value.code == "too_large"
    assert caught.value.message == "bulk frame 1 is 1001 bytes; the limit is 1000"


def test_header_over_the_limit():
    header = msgpack.packb({"v": 1, "type": "say", "seq": 1, "session": "s", "text": "a" * 300_000})
    with pytest.raises(ProtocolError) as caught:
        decode([header])
    assert caught.value.code == "too_large"
    assert caught.value.message == f"header frame is {len(header)} bytes; the limit is 262144"


def test_canonical_encoding_sorts_keys_and_writes_floats_as_float64():
    frames = encode(Message("ping", {"client_time": 2}, seq=1))
    assert frames[0] == bytes.fromhex("84ab636c69656e745f74696d65cb4000000000000000a3736571") + bytes.fromhex("01a474797065a470696e67a17601")


@settings(max_examples=400, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=4))
def test_fuzz_random_frames(frames):
    try:
        decode(frames)
    except ProtocolError:
        pass


_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**64, 2**64 - 1) | st.floats() | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(TYPES)), st.dictionaries(st.sampled_from(
    ["v", "seq", "session", "text", "time", "utterance", "offset", "count", "first", "fps", "client_time",
     "versions", "client", "final", "sample_rate", "re", "code", "message", "name"]), _values, max_size=8),
       st.lists(st.binary(max_size=64), max_size=2))
def test_fuzz_structured_headers(type_name, fields, bulk):
    header = {"v": 1, "type": type_name, "seq": 1, **fields}
    try:
        packed = msgpack.packb(header, use_bin_type=True)
    except (OverflowError, ValueError):
        return
    try:
        message = decode([packed, *bulk])
    except ProtocolError:
        return
    assert encode(message) == encode(decode(encode(message)))   # whatever decodes re-encodes stably


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=300), st.integers(0, 299))
def test_fuzz_truncated_and_corrupted_vectors(noise, cut):
    for case in VALID[:6]:
        head = bytes.fromhex(case["frames"][0])
        for candidate in (head[:cut % max(len(head), 1)], head[: len(head) // 2] + noise):
            try:
                decode([candidate])
            except ProtocolError:
                pass
