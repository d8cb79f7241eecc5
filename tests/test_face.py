"""The camera path on a real photo (the astronaut portrait in scikit-image), moved the way a head
moves in front of a webcam: shifted, turned in the image plane, and lost."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

pytest.importorskip("mediapipe")
from avbridge.core.rotation import quaternion_to_yaw_pitch_roll  # noqa: E402
from avbridge.perception.face import Calibration, FaceTracker, OneEuroFilter  # noqa: E402
from skimage import data  # noqa: E402


@pytest.fixture(scope="module")
def tracker():
    t = FaceTracker()
    yield t
    t.close()


def portrait(shift=(0, 0), angle_deg=0.0) -> np.ndarray:
    image = data.astronaut()
    if angle_deg:
        image = ndimage.rotate(image, angle_deg, reshape=False, order=1, mode="nearest")
    return ndimage.shift(image, (shift[0], shift[1], 0), order=1, mode="nearest") if any(shift) else image


def test_tracker_reads_the_face_and_follows_it_moving(tracker):
    still = tracker.track(portrait(), 0.0)
    assert still.tracked and still.weights.shape == (52,) and 0 <= still.weights.min() and still.weights.max() <= 1
    moved = tracker.track(portrait(shift=(0, 30)), 0.033)
    assert moved.tracked
    # 30 pixels to the right in the image is the head moving to the camera's right (+x)
    assert moved.head[4] - still.head[4] > 0.005
    tracker.track(portrait(angle_deg=5), 0.066)             # turned a little at a time, as a head turns
    tilted = tracker.track(portrait(angle_deg=10), 0.1)
    assert tilted.tracked
    roll_still = quaternion_to_yaw_pitch_roll(still.head[None, :4])[0, 2]
    roll_tilted = quaternion_to_yaw_pitch_roll(tilted.head[None, :4])[0, 2]
    assert abs(np.degrees(roll_tilted - roll_still)) > 8


def test_no_face_is_reported_as_lost(tracker):
    blank = np.full((512, 512, 3), 128, np.uint8)
    assert not tracker.track(blank, 1.0).tracked


def test_calibration_makes_the_resting_face_neutral(tracker):
    calibration = Calibration()
    observations = [tracker.track(portrait(shift=(0, k)), 2.0 + k * 0.033) for k in range(6)]
    for o in observations:
        calibration.add(o)
    assert calibration.finish()
    rest = calibration.apply(observations[0])
    assert rest.weights.max() < 0.1
    assert np.abs(rest.head[4:]).max() < 0.01
    assert abs(rest.head[3]) > 0.999                       # identity rotation


def test_one_euro_filter_calms_jitter_and_keeps_up_with_motion():
    rng = np.random.default_rng(1)
    f = OneEuroFilter(min_cutoff=1.0, beta=0.5)
    still = [f(np.array([0.5 + rng.normal(0, 0.02)]), k / 30)[0] for k in range(60)]
    assert np.std(still[30:]) < 0.01                        # jitter of 0.02 calmed
    f2 = OneEuroFilter(min_cutoff=1.0, beta=0.5)
    ramp = [f2(np.array([k / 30.0]), k / 30)[0] for k in range(30)]
    assert abs(ramp[-1] - 29 / 30) < 0.1                     # a 1/s move is followed closely
