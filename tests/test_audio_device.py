"""A real audio device: PulseAudio with a null sink, the recording played into it by paplay and
captured from its monitor through PortAudio (sounddevice, ALSA's pulse plugin), then through the
same voice activity and lips the server uses. The device paces the audio in real time."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parent / "data"
pytestmark = pytest.mark.skipif(shutil.which("pulseaudio") is None or shutil.which("paplay") is None,
                                reason="PulseAudio is not installed (tools/setup_system.sh installs it)")


@pytest.fixture(scope="module")
def pulse():
    runtime = tempfile.mkdtemp(prefix="avbridge-pulse-")
    env = {**os.environ, "XDG_RUNTIME_DIR": runtime, "HOME": runtime, "PULSE_RUNTIME_PATH": runtime}
    server = subprocess.Popen(
        ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--system=false", "--disallow-exit",
         "--use-pid-file=false", "--log-target=stderr",
         "--load=module-native-protocol-unix", "--load=module-null-sink sink_name=avbridge_test",
         "--load=module-always-sink"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode != 0:
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            pytest.fail("pulseaudio did not start: " + server.stderr.read().decode(errors="replace")[-500:])
        time.sleep(0.1)
    # ALSA's default device goes to PulseAudio; the recording side listens to the sink's monitor.
    asoundrc = Path(runtime) / ".asoundrc"
    asoundrc.write_text("pcm.!default { type pulse }\nctl.!default { type pulse }\n")
    saved = {k: os.environ.get(k) for k in ("XDG_RUNTIME_DIR", "HOME", "PULSE_RUNTIME_PATH", "PULSE_SOURCE", "ALSA_CONFIG_PATH")}
    os.environ.update(XDG_RUNTIME_DIR=runtime, HOME=runtime, PULSE_RUNTIME_PATH=runtime, PULSE_SOURCE="avbridge_test.monitor")
    yield env
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    server.terminate()
    server.wait(timeout=5)
    shutil.rmtree(runtime, ignore_errors=True)


def test_voice_from_a_real_device_drives_activity_and_lips(pulse):
    sounddevice = pytest.importorskip("sounddevice")
    sounddevice._terminate()
    sounddevice._initialize()          # PortAudio enumerates devices once: let it see PulseAudio now
    from avbridge.motion.visemes import lip_gap
    from avbridge.motion.voice_lips import VoiceLips
    from avbridge.perception.audio import DeviceSource
    from avbridge.perception.vad import VoiceActivity

    vad, lips = VoiceActivity(), VoiceLips(60)
    VoiceActivity().push(np.zeros(1600, np.int16))   # load the shared VAD model outside the timed loop
    source = DeviceSource("pulse")
    # The clock starts with the first block: how long PortAudio and PulseAudio take to open the
    # stream (up to 2 s on a loaded machine, measured) is not what this test is about.
    first, opened = source.read(), time.monotonic()
    while not len(first):
        assert time.monotonic() - opened < 10, "the device delivered nothing in 10 s"
        first = source.read()
    player = subprocess.Popen(["paplay", "--device=avbridge_test", str(DATA / "beat_scott_excerpt.wav")], env=pulse)
    events, mouth, t0 = list(vad.push(first)), [lips.push(first)[1]], time.monotonic()
    try:
        while time.monotonic() - t0 < 6.0:
            piece = source.read()
            events += vad.push(piece)
            mouth.append(lips.push(piece)[1])
    finally:
        source.close()
        player.wait(timeout=10)
    received = vad.time
    # PortAudio may hand over its start-up buffer at once; beyond that the device paces the audio.
    assert 5.0 <= received <= 7.5, f"the device delivered {received:.2f} s of audio in 6 s of wall time"
    starts = [e for e in events if e.kind == "start"]
    assert starts, "speech in the recording reached the voice activity detector"
    gap = lip_gap(np.concatenate(mouth))
    assert np.median(gap[int((starts[0].time + 0.5) * 60):int((starts[0].time + 2.5) * 60)]) > 0.1
