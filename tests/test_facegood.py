"""The FACEGOOD paired corpus as ARKit tracks (excerpt in tests/data, see its README)."""

from pathlib import Path

import numpy as np
import pytest
from avbridge.datasets.facegood import DatasetError, load_names, load_take

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def take():
    return load_take(DATA / "facegood_1114_3_15_excerpt.npy", DATA / "facegood_1114_3_15_excerpt.wav",
                     DATA / "facegood_bs_names.npy")


def test_the_columns_are_one_off_the_names_and_that_is_detected(take):
    assert take.column_offset == 1
    assert len(take.track) == 300 and take.sample_rate == 16000 and len(take.pcm) == 160000


def test_the_mapped_jaw_follows_the_speech(take):
    hop = take.sample_rate / 30
    envelope = np.array([np.sqrt(np.mean(take.pcm[int(n * hop):int((n + 1) * hop)].astype(float) ** 2))
                         for n in range(len(take.track))])
    jaw = take.track.channel("jawOpen")
    assert jaw.max() > 0.3 and np.corrcoef(jaw, envelope)[0, 1] > 0.5
    # Symmetric controls land on both sides.
    assert np.allclose(take.track.channel("mouthUpperUpLeft"), take.track.channel("mouthUpperUpRight"), atol=0.05)


def test_broken_inputs_are_refused(tmp_path):
    np.save(tmp_path / "bad.npy", np.zeros((10, 5)))
    with pytest.raises(DatasetError, match=r"shape \(10, 5\); expected \(frames, 116\)"):
        load_take(tmp_path / "bad.npy", DATA / "facegood_1114_3_15_excerpt.wav", DATA / "facegood_bs_names.npy")
    np.save(tmp_path / "short.npy", np.zeros((100, 116)))
    with pytest.raises(DatasetError, match="100 frames but the audio lasts 300.0 frames"):
        load_take(tmp_path / "short.npy", DATA / "facegood_1114_3_15_excerpt.wav", DATA / "facegood_bs_names.npy")
    assert len(load_names(DATA / "facegood_bs_names.npy")) == 116
