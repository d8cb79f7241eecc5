"""`avbridge say` end to end: an in-process server over a real socket, files on disk."""

import csv
import json
import wave

import numpy as np
from avbridge.cli import main
from avbridge.core.arkit import LIVE_LINK_FACE_EXTRA_COLUMNS
from avbridge.motion.visemes import LIPS_CLOSED_BELOW, is_bilabial

LLF_HEADER_START = ["Timecode", "BlendShapeCount", "EyeBlinkLeft", "EyeLookDownLeft"]


def test_say_writes_a_take(tmp_path, capsys):
    out = tmp_path / "take"
    assert main(["say", "Bob bought a big map, maybe for my mom.", "--out", str(out), "--log-level", "warning"]) == 0
    assert "lips closed on" in capsys.readouterr().out
    with wave.open(str(out / "speech.wav")) as w:
        rate, pcm = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), "<i2")
    assert np.sqrt(np.mean(pcm.astype(float) ** 2)) > 500
    with open(out / "track.csv") as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], rows[1:]
    assert header[:4] == LLF_HEADER_START and header[-9:] == list(LIVE_LINK_FACE_EXTRA_COLUMNS)
    assert header.index("JawRight") < header.index("JawLeft") and header.index("MouthRight") < header.index("MouthLeft")
    assert len(header) == 63 and all(len(r) == 63 and r[1] == "61" for r in rows)
    assert len(rows) == int(np.ceil(len(pcm) / rate * 60 - 1e-9))
    assert rows[0][0] == "00:00:00:00.000" and rows[61][0] == "00:00:01:01.000"
    values = np.array([[float(v) for v in r[2:]] for r in rows])
    jaw, close = values[:, header.index("JawOpen") - 2], values[:, header.index("MouthClose") - 2]
    lower = values[:, [header.index("MouthLowerDownLeft") - 2, header.index("MouthLowerDownRight") - 2]].mean(axis=1)
    upper = values[:, [header.index("MouthUpperUpLeft") - 2, header.index("MouthUpperUpRight") - 2]].mean(axis=1)
    funnel = values[:, header.index("MouthFunnel") - 2]
    gap = np.maximum(jaw - close, 0) + 0.5 * (lower + upper + funnel)
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    bilabials = [e for e in events if e["name"] == "phoneme" and is_bilabial(e["phoneme"])]
    assert len(bilabials) >= 8
    t = np.arange(len(rows)) / 60
    for b in bilabials:
        inside = (t >= b["time"] - 1 / 120) & (t <= b["end"] + 1 / 120)
        assert (gap[inside] < LIPS_CLOSED_BELOW).any(), b
    assert (out / "plot.png").stat().st_size > 20_000


def test_user_errors_are_one_sentence_and_exit_code_2(tmp_path, capsys):
    from avbridge.cli import main as cli_main
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("Timecode,BlendShapeCount\nnot,a take\n")
    cases = [
        (["inspect", str(tmp_path / "missing")], "no such take"),
        (["inspect", str(bad_csv)], "bad.csv"),
        (["say", "Hi.", "--voice", "espeak", "--motion", "nonsense", "--out", str(tmp_path / "o")], "unknown motion generator"),
    ]
    for argv, words in cases:
        assert cli_main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and words in err and "Traceback" not in err and "\n" not in err, err
