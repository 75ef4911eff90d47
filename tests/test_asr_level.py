"""What Whisper hears: one level whatever the microphone gain, peaks softly limited."""

from __future__ import annotations

import numpy as np
import pytest

from livevoice.asr.level import LEVEL_FLOOR, condition, loud_level


def speechlike(seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    """Bursts of harmonics with a syllable-rate envelope and soft noise between them."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    voiced = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((140, 280, 420, 700), start=1))
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 2
    return (0.3 * voiced * envelope + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def test_off_leaves_the_input_alone() -> None:
    audio = speechlike()
    assert condition(audio, 0.0) is audio


def test_output_is_float32_and_inside_full_scale() -> None:
    out = condition(4.0 * speechlike(), 2.0)
    assert out.dtype == np.float32
    assert float(np.abs(out).max()) < 1.0


@pytest.mark.parametrize("gain", [0.1, 0.3, 3.0])
def test_the_result_does_not_depend_on_the_input_level(gain: float) -> None:
    audio = speechlike()
    assert loud_level(gain * audio) > LEVEL_FLOOR
    np.testing.assert_allclose(condition(gain * audio, 2.0), condition(audio, 2.0), atol=1e-5)


def test_loud_samples_sit_at_the_drive_and_quiet_ones_keep_their_proportions() -> None:
    audio = speechlike()
    drive = 2.0
    out = condition(audio, drive)
    assert loud_level(out) == pytest.approx(np.tanh(drive), abs=0.02)
    quiet = np.abs(audio) < 0.1 * loud_level(audio)  # the linear part of tanh
    ratio = out[quiet] / np.where(audio[quiet] == 0, 1, audio[quiet])
    scale = drive / loud_level(audio)
    np.testing.assert_allclose(ratio[audio[quiet] != 0], scale, rtol=0.05)


def test_faint_noise_is_not_blown_up_to_full_scale() -> None:
    noise = (0.001 * np.random.default_rng(1).standard_normal(16000)).astype(np.float32)
    assert loud_level(noise) == LEVEL_FLOOR
    # scaled as if it were at the floor: well under full scale (driven to its own level: ~1)
    assert float(np.abs(condition(noise, 2.0)).max()) < 0.8
    assert float(np.abs(condition(np.zeros(100, dtype=np.float32), 2.0)).max()) == 0.0
    assert condition(np.zeros(0, dtype=np.float32), 2.0).shape == (0,)
