"""Reading real Live Link Face takes (tests/data, see its README) and refusing broken ones."""

from pathlib import Path

import numpy as np
import pytest
from avbridge.takes.livelink_csv import TakeError, parse_timecode, read_csv

DATA = Path(__file__).parent / "data"


def test_a_real_60_fps_take():
    take = read_csv(DATA / "MySlate_3_Jason_Millers_iPhone.csv")
    assert take.fps == 60 and len(take.track) == 328 and take.valid.all()
    assert take.track.channel("jawOpen").max() > 0.5
    # JawRight comes before JawLeft in the file; the reader puts each where ARKit has it.
    assert abs(take.track.channel("jawLeft").mean() - 0.055) < 0.05


def test_tracking_loss_rows_are_marked_and_filled():
    take = read_csv(DATA / "apfel_tracking_loss_excerpt.csv")
    assert take.fps == 30
    lost = ~take.valid
    assert lost.sum() >= 3
    assert np.isfinite(take.track.blendshapes).all()
    i = int(np.flatnonzero(lost)[0])
    before, after = take.track.blendshapes[i - 1], take.track.blendshapes[np.flatnonzero(take.valid & (np.arange(len(lost)) > i))[0]]
    assert np.all(take.track.blendshapes[i] >= np.minimum(before, after) - 1e-6)


def test_our_own_csv_reads_back(tmp_path):
    from avbridge.core.rotation import yaw_pitch_roll_to_quaternion
    from avbridge.core.track import Track
    from avbridge.takes.write import write_csv
    rng = np.random.default_rng(0)
    head = np.zeros((30, 7), np.float32)
    head[:, :4] = yaw_pitch_roll_to_quaternion(rng.uniform(-.2, .2, 30), rng.uniform(-.2, .2, 30), rng.uniform(-.1, .1, 30))
    track = Track(60, rng.uniform(0, 1, (30, 52)).astype(np.float32), head, rng.uniform(-.2, .2, (30, 4)).astype(np.float32))
    write_csv(tmp_path / "t.csv", track)
    back = read_csv(tmp_path / "t.csv").track
    assert np.allclose(back.blendshapes, track.blendshapes, atol=1e-5)
    assert np.allclose(np.abs((back.head[:, :4] * track.head[:, :4]).sum(1)), 1, atol=1e-5)
    assert np.allclose(back.gaze, track.gaze, atol=1e-5)


def test_timecodes():
    assert parse_timecode("00:00:01:30.500") == pytest.approx(1.5 + 0.5 / 60)


@pytest.mark.parametrize("content,message", [
    ("", "empty file"),
    ("Time,Count\n", "line 1 must start with Timecode,BlendShapeCount"),
    ("Timecode,BlendShapeCount,EyeBlinkLeft\n", "line 1 lacks 51 blendshape column(s)"),
    (None, "line 2 has 10 fields; the header has 63"),
    ("BAD", "line 2 has a value that is not a number"),
    ("TC", "line 2: timecode 'xx' is not HH:MM:SS:FF.mmm"),
    ("LOST", "no frame with tracking data"),
])
def test_broken_files_are_refused_with_the_reason(tmp_path, content, message):
    header = (DATA / "MySlate_3_Jason_Millers_iPhone.csv").read_text().splitlines()[0]
    row = (DATA / "MySlate_3_Jason_Millers_iPhone.csv").read_text().splitlines()[1]
    text = {None: f"{header}\n{','.join(row.split(',')[:10])}\n", "BAD": f"{header}\n{row.replace('0.0491091609', 'abc')}\n",
            "TC": f"{header}\nxx,{row.split(',', 1)[1]}\n", "LOST": f"{header}\n00:00:00:01.000,0\n"}.get(content, content)
    path = tmp_path / "take.csv"
    path.write_text(text)
    with pytest.raises(TakeError) as caught:
        read_csv(path)
    assert message in str(caught.value) and str(path) in str(caught.value)
