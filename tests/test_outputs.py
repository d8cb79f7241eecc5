"""Live Link Face and VMC out of the server (adapters/, server/outputs.py), checked against a
parser written here from the packet description, recorded packets of a real take
(tests/data/README.md), and python-osc's own server as the VMC receiver."""

from __future__ import annotations

import csv
import gzip
import socket
import struct
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from avbridge.adapters import livelink, vmc
from avbridge.adapters.timecode import StageClock, parse_smpte, smpte
from avbridge.client import Client, ServerError
from avbridge.core.arkit import ARKIT_BLENDSHAPES, INDEX, LIVE_LINK_FACE_ORDER, upper_camel
from avbridge.core.rotation import yaw_pitch_roll_to_quaternion
from avbridge.motion.visemes import VISEME_INDEX, VISEME_POSES
from avbridge.server.config import ServerConfig
from avbridge.server.outputs import OutputError, outputs_from_config
from avbridge.core.audio import read_wav_mono
from avbridge.takes.livelink_csv import parse_timecode
from avbridge.takes.write import bwf_time_reference
from conftest import make_server

DATA = Path(__file__).parent / "data"


def independent_parse(data: bytes) -> dict:
    """A Live Link Face v6 packet, read from its description alone (../shared/data/README.md):
    uint8 version; int32 length + UTF-8 device id; int32 length + UTF-8 subject; int32 frame +
    float32 sub-frame; int32 rate numerator + int32 denominator; uint8 count; count float32.
    All big-endian."""
    version = data[0]
    n = struct.unpack(">i", data[1:5])[0]
    device = data[5:5 + n].decode()
    p = 5 + n
    m = struct.unpack(">i", data[p:p + 4])[0]
    subject = data[p + 4:p + 4 + m].decode()
    p += 4 + m
    frame, sub, num, den = struct.unpack(">ifii", data[p:p + 16])
    count = data[p + 16]
    values = struct.unpack(f">{count}f", data[p + 17:p + 17 + 4 * count])
    assert p + 17 + 4 * count == len(data), "bytes left after the values"
    return {"version": version, "device": device, "subject": subject, "frame": frame, "sub": sub,
            "rate": (num, den), "values": np.array(values, np.float32)}


def recorded_packets() -> list[bytes]:
    raw = gzip.open(DATA / "livelink_dao.gesichter").read()
    count = struct.unpack(">I", raw[1:5])[0]
    packets, at = [], 5
    for _ in range(count):
        length = struct.unpack(">I", raw[at:at + 4])[0]
        packets.append(raw[at + 4:at + 4 + length])
        at += 4 + length
    assert at == len(raw)
    return packets


def test_recorded_packets_decode_and_our_encoder_writes_them_back_byte_for_byte():
    packets = recorded_packets()
    assert len(packets) == 180
    for data in packets:
        p = livelink.decode(data)
        assert p.rate == (60, 1) and len(p.values) == 61 and p.subject == "LLV Default Device"
        again = livelink.LiveLinkPacket(p.device_id, p.subject, p.frame_number, p.sub_frame, p.rate, p.values).encode()
        assert again == data
    frames = [livelink.decode(d).frame_number for d in packets]
    assert np.all(np.diff(frames) >= 0)


def test_our_packets_read_with_an_independent_parser():
    track_blend = np.zeros(52, np.float32)
    track_blend[INDEX["jawLeft"]] = 0.9
    track_blend[INDEX["mouthRight"]] = 0.4
    head = np.zeros(7, np.float32)
    head[:4] = yaw_pitch_roll_to_quaternion(0.2, -0.1, 0.05)
    gaze = np.array([0.1, 0.2, 0.15, 0.25], np.float32)
    values = livelink.frame_values(track_blend[None], head[None], gaze[None])[0]
    data = livelink.LiveLinkPacket("avbridge", "Guard", 1234567, 0.25, (60, 1), values).encode()
    parsed = independent_parse(data)
    assert parsed["version"] == 6 and parsed["device"] == "avbridge" and parsed["subject"] == "Guard"
    assert parsed["frame"] == 1234567 and parsed["sub"] == 0.25 and parsed["rate"] == (60, 1)
    # Live Link Face's own order: JawRight comes before JawLeft, MouthRight before MouthLeft.
    order = list(LIVE_LINK_FACE_ORDER)
    assert order.index("jawRight") < order.index("jawLeft")
    assert parsed["values"][order.index("jawLeft")] == pytest.approx(0.9)
    assert parsed["values"][order.index("mouthRight")] == pytest.approx(0.4)
    assert np.allclose(parsed["values"][52:55], [0.2, -0.1, 0.05], atol=1e-5)     # head yaw, pitch, roll
    assert np.allclose(parsed["values"][55:61], [0.1, 0.2, 0.0, 0.15, 0.25, 0.0])  # eyes, roll 0


def test_broken_packets_are_refused_with_the_field_named():
    good = livelink.LiveLinkPacket("d", "s", 1, 0.0, (60, 1), np.zeros(61)).encode()
    with pytest.raises(livelink.PacketError, match="version 5"):
        livelink.decode(b"\x05" + good[1:])
    with pytest.raises(livelink.PacketError, match="ends inside its values"):
        livelink.decode(good[:-3])
    with pytest.raises(livelink.PacketError, match="bytes after"):
        livelink.decode(good + b"\x00")
    with pytest.raises(livelink.PacketError, match="subject name"):
        livelink.LiveLinkPacket("d", "", 1, 0.0, (60, 1), np.zeros(61)).encode()


def test_timecode_round_trips_and_the_stage_clock_counts_frames_from_it():
    assert parse_smpte("10:00:00:00", 60) == 36000.0
    assert smpte(parse_smpte("23:59:59:29", 30), 30) == "23:59:59:29"
    assert smpte(86400.0 + 1.5, 30) == "00:00:01:15"                 # wraps at midnight
    with pytest.raises(ValueError, match="out of range"):
        parse_smpte("10:00:00:30", 30)
    clock = StageClock(0.0)
    clock.set("10:00:00:00", 60, session_now=2.0)
    assert clock.frame_time(2.0, 60) == (2_160_000, 0.0)
    frame, sub = clock.frame_time(2.0 + 10.5 / 60, 60)
    assert frame == 2_160_010 and sub == pytest.approx(0.5, abs=1e-6)


class VmcReceiver:
    """python-osc's own UDP server, recording every message of every bundle."""

    def __init__(self) -> None:
        from pythonosc.dispatcher import Dispatcher
        from pythonosc.osc_server import ThreadingOSCUDPServer
        self.messages: list[tuple[str, tuple]] = []
        dispatcher = Dispatcher()
        dispatcher.set_default_handler(lambda address, *args: self.messages.append((address, args)))
        self.server = ThreadingOSCUDPServer(("127.0.0.1", 0), dispatcher)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _row(blendshapes: np.ndarray, yaw: float = 0.0) -> np.ndarray:
    row = np.zeros(63, np.float32)
    row[:52] = blendshapes
    row[52:56] = yaw_pitch_roll_to_quaternion(yaw, 0.0, 0.0)
    return row


@pytest.mark.parametrize("names", ["vrm0", "vrm1", "arkit"])
def test_a_vmc_receiver_gets_every_address_with_its_types_and_values(names):
    receiver = VmcReceiver()
    try:
        mouth = VISEME_POSES[VISEME_INDEX["aa"]].copy()
        mouth[INDEX["eyeBlinkLeft"]] = mouth[INDEX["eyeBlinkRight"]] = 0.8
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender.sendto(vmc.frame_bundle(_row(mouth, yaw=0.3), 1.25, names), ("127.0.0.1", receiver.port))
        sender.close()
        expected = 3 + 4 + (52 if names == "arkit" else 12) + 1      # OK, T, Root; 4 bones; values; Apply
        receiver.wait_for(expected)
    finally:
        receiver.close()
    got = receiver.messages
    addresses = [a for a, _ in got]
    assert len(got) == expected
    assert addresses[:3] == ["/VMC/Ext/OK", "/VMC/Ext/T", "/VMC/Ext/Root/Pos"] and addresses[-1] == "/VMC/Ext/Blend/Apply"
    assert got[0][1] == (1, 3, 0, 1) and got[1][1][0] == pytest.approx(1.25)
    bones = {args[0]: args[1:] for a, args in got if a == "/VMC/Ext/Bone/Pos"}
    assert set(bones) == {"Neck", "Head", "LeftEye", "RightEye"}
    assert all(len(v) == 7 and all(isinstance(x, float) for x in v) for v in bones.values())
    # Yaw toward the avatar's left in our right-handed frame is a negative y rotation in Unity's.
    assert bones["Head"][4] < 0 and bones["Neck"][4] < 0
    blends = {args[0]: args[1] for a, args in got if a == "/VMC/Ext/Blend/Val"}
    assert all(isinstance(v, float) for v in blends.values())
    if names == "arkit":
        assert set(blends) == {upper_camel(n) for n in ARKIT_BLENDSHAPES}
        assert blends["EyeBlinkLeft"] == pytest.approx(0.8)
    else:
        a, blink, left = ("A", "Blink", "Blink_L") if names == "vrm0" else ("aa", "blink", "blinkLeft")
        assert blends[a] == pytest.approx(1.0, abs=0.02)                 # the "aa" pose is all A
        assert blends[blink] == pytest.approx(0.8) and blends[left] == pytest.approx(0.0)


def test_vowels_follow_the_mouth_they_are_made_from():
    for viseme, index in (("aa", 0), ("I", 1), ("U", 2), ("E", 3), ("O", 4)):
        weights = vmc.vowel_weights(VISEME_POSES[VISEME_INDEX[viseme]])
        assert int(np.argmax(weights)) == index, viseme


def _receiver() -> socket.socket:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(2.0)
    return rx


def _drain(rx: socket.socket) -> list[livelink.LiveLinkPacket]:
    """Every packet until none comes for the receiver's timeout (for streams that end)."""
    out = []
    try:
        while True:
            out.append(livelink.decode(rx.recvfrom(4096)[0]))
    except socket.timeout:
        return out


def test_a_session_streams_its_line_to_live_link_on_stage_timecode_and_its_take_file_agrees(tmp_path):
    rx = _receiver()
    server = make_server(voice="espeak", takes_dir=str(tmp_path))
    try:
        with Client(server.endpoint, timeout=20) as c:
            s = c.open(idle=False)
            s.set(livelink=[f"127.0.0.1:{rx.getsockname()[1]}"], livelink_subject="Guard", timecode="10:00:00:00")
            result = s.say("Hello there, my friend.")
            packets = _drain(rx)
    finally:
        server.stop()
        rx.close()
    assert len(packets) == len(result.track)
    assert {p.subject for p in packets} == {"Guard"} and {p.rate for p in packets} == {(60, 1)}
    frames = np.array([p.frame_number for p in packets])
    assert np.all(np.diff(frames) == 1)
    # The line starts just after the set (the playout delay): within a second of 10:00:00:00.
    assert 0 <= frames[0] - 2_160_000 < 60
    jaw = [p.values[list(LIVE_LINK_FACE_ORDER).index("jawOpen")] for p in packets]
    assert np.allclose(jaw, result.track.channel("jawOpen"), atol=1e-6)
    takes = list(tmp_path.glob("*/*/track.csv"))
    assert len(takes) == 1 and (takes[0].parent / "speech.wav").is_file()
    with open(takes[0], newline="") as f:
        rows = list(csv.reader(f))[1:]
    assert len(rows) == len(packets)
    stage = np.array([parse_timecode(r[0]) for r in rows])
    assert np.allclose(stage, (frames + np.array([p.sub_frame for p in packets])) / 60.0, atol=0.002)
    # The speech is a Broadcast Wave placed at the same time: its first sample at the first frame.
    pcm, rate = read_wav_mono(takes[0].parent / "speech.wav")
    assert len(pcm) == len(result.pcm) and rate == result.sample_rate
    assert bwf_time_reference(takes[0].parent / "speech.wav") / rate == pytest.approx(stage[0], abs=0.002)


def test_an_interrupt_stops_the_live_link_frames_where_the_stream_stops():
    rx = _receiver()
    server = make_server(voice="espeak")
    try:
        with Client(server.endpoint, timeout=20) as c:
            s = c.open(idle=False)
            s.set(livelink=[f"127.0.0.1:{rx.getsockname()[1]}"])
            utterance = s.say_async("This is a long line that will not be finished, because it is cut off early on.")
            time.sleep(0.6)
            s.interrupt(utterance)
            stream = [m for m, _ in s.received(2.5)]
            packets = _drain(rx)
    finally:
        server.stop()
        rx.close()
    ends = [m for m in stream if m.type == "end" and m["utterance"] == utterance]
    assert len(ends) == 1 and ends[0]["status"] == "interrupted"
    sent = [m for m in stream if m.type == "frames" and m["utterance"] == utterance]
    assert sum(m["count"] for m in sent) > ends[0]["frames"]        # the lead had gone out past the cut
    # Live Link stopped at the cut. The frame at the cut itself is due the moment the interrupt is
    # handled, so it can leave before the cut reaches the sender: one frame, never more.
    assert 0 < ends[0]["frames"] <= len(packets) <= ends[0]["frames"] + 1


def test_bad_targets_are_refused_with_a_sentence_and_the_session_keeps_serving():
    server = make_server(voice="espeak")
    try:
        with Client(server.endpoint, timeout=20) as c:
            s = c.open(idle=False)
            for target, why in (("10.20.30.40:11111", "off this machine"), ("127.0.0.1:0", "port 1..65535"),
                                ("a..b:11111", "does not resolve"), ("11111", "host:port")):
                with pytest.raises(ServerError, match=why) as e:
                    s.set(livelink=[target])
                assert e.value.code == "bad_field"
            with pytest.raises(ServerError, match="vmc_names"):
                s.set(vmc=["127.0.0.1:39539"], vmc_names="vrm2")
            with pytest.raises(ServerError, match="timecode"):
                s.set(timecode="25:00:00:00")
            assert len(s.say("Still here.").track) > 0
    finally:
        server.stop()
    with pytest.raises(OutputError, match="allow-remote-outputs"):
        outputs_from_config(ServerConfig(livelink=["10.20.30.40:11111"]), time.monotonic)
    remote = outputs_from_config(ServerConfig(livelink=["10.20.30.40:11111"], allow_remote_outputs=True), time.monotonic)
    assert str(remote.defaults.livelink[0]) == "10.20.30.40:11111"


def test_the_device_mixer_plays_each_sample_at_its_time_cuts_and_mixes():
    from avbridge.server.device_audio import Mixer
    mixer = Mixer(48000)
    tone = np.full(2205, 16384, np.int16)                     # 0.1 s at 22,050 Hz
    mixer.add(10.05, 22050, tone, ("s1", "u1"), 0)
    out = np.zeros(4800, np.float32)                           # 10.00 .. 10.10 s
    mixer.fill(out, 10.0)
    assert np.all(out[:2400] == 0) and np.allclose(out[2401:4800], 0.5)    # starts at 10.05 exactly
    mixer.fill(out, 10.1)
    assert np.allclose(out[:2398], 0.5) and np.all(out[2402:] == 0)       # and lasts 0.1 s
    # Two sessions add; a cut stops one at its sample count.
    mixer.add(20.0, 48000, np.full(4800, 8192, np.int16), ("s1", "u2"), 0)
    mixer.add(20.0, 48000, np.full(4800, 8192, np.int16), ("s2", "u1"), 0)
    mixer.cut(("s1", "u2"), 2400, 48000)
    mixer.fill(out, 20.0)
    assert np.allclose(out[:2400], 0.5) and np.allclose(out[2400:], 0.25)
    # A chunk that comes after its time loses only its late part, and says so.
    mixer.add(30.0, 48000, np.full(4800, 8192, np.int16), ("s1", "u3"), 0)
    mixer.fill(out, 30.05)
    assert np.allclose(out[:2400], 0.25) and np.all(out[2401:] == 0) and mixer.late_samples == 2400
    mixer.add(40.0, 48000, np.full(480, 8192, np.int16), ("s3", "u1"), 0)
    mixer.drop("s3")
    mixer.fill(out, 40.0)
    assert np.all(out == 0)


def test_outputs_set_on_an_idle_session_start_with_the_stream_already_running():
    rx = _receiver()
    server = make_server(voice="espeak")
    try:
        with Client(server.endpoint, timeout=20) as c:
            s = c.open()                                  # idle motion streams from the start
            time.sleep(0.3)
            s.set(livelink=[f"127.0.0.1:{rx.getsockname()[1]}"], livelink_subject="Idler")
            # What left for the client before the set (up to the 0.5 s lead) is not sent again.
            packets, deadline = [], time.monotonic() + 1.5
            while time.monotonic() < deadline:
                packets.append(livelink.decode(rx.recvfrom(4096)[0]))
    finally:
        server.stop()
        rx.close()
    assert len(packets) > 45 and {p.subject for p in packets} == {"Idler"}
    assert np.all(np.diff([p.frame_number for p in packets]) == 1)
