"""Voice algebra invariants: mix, slerp, directions, nearest, morph schedules (pure numpy)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livevoice.voices.algebra import (
    MorphSchedule,
    angle,
    apply_direction,
    cosine,
    learn_direction,
    mix,
    nearest,
    slerp,
)
from livevoice.voices.embedding import VoiceError

DIM = 64


def rand_voice(seed: int, dim: int = DIM, scale: float = 1.0) -> np.ndarray:
    """A random embedding with a typical non-unit length."""
    return (np.random.default_rng(seed).normal(size=dim) * scale).astype(np.float32)


def norm(v: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(v, dtype=np.float64)))


seeds = st.integers(min_value=0, max_value=10_000)


# -- mix -------------------------------------------------------------------------


def test_mix_of_one_voice_is_that_voice_exactly() -> None:
    a = rand_voice(1)
    assert np.array_equal(mix([(a, 0.3)]), a)
    assert np.array_equal(mix([(a, 1.0), (rand_voice(2), 0.0)]), a)


@settings(max_examples=40, deadline=None)
@given(seeds, seeds, st.floats(0.05, 0.95))
def test_mix_weights_are_normalised_and_norm_is_weighted_mean(s1: int, s2: int, w: float) -> None:
    a, b = rand_voice(s1, scale=2.0), rand_voice(s2 + 20_000, scale=0.5)
    m = mix([(a, w), (b, 1 - w)])
    assert np.allclose(mix([(a, 10 * w), (b, 10 * (1 - w))]), m, atol=1e-6)
    assert norm(m) == pytest.approx(w * norm(a) + (1 - w) * norm(b), rel=1e-5)
    # The direction is the normalised weighted sum of the unit directions.
    expected = w * a / norm(a) + (1 - w) * b / norm(b)
    assert cosine(m, expected) == pytest.approx(1.0, abs=1e-6)


def test_mix_70_30_leans_towards_the_heavier_voice() -> None:
    a, b = rand_voice(3), rand_voice(4)
    m = mix([(a, 0.7), (b, 0.3)])
    assert angle(m, a) < angle(m, b)


def test_equal_mix_of_two_equals_slerp_midpoint() -> None:
    a, b = rand_voice(5, scale=3.0), rand_voice(6, scale=1.0)
    assert np.allclose(mix([(a, 1), (b, 1)]), slerp(a, b, 0.5), atol=1e-5)


def test_mix_of_identical_voices_is_the_voice() -> None:
    a = rand_voice(7)
    assert np.allclose(mix([(a, 0.2), (a, 0.5), (a, 0.3)]), a, atol=1e-6)


def test_mix_rejects_bad_weights_and_cancelling_directions() -> None:
    a, b = rand_voice(8), rand_voice(9)
    with pytest.raises(VoiceError, match=">= 0"):
        mix([(a, 1.0), (b, -0.5)])
    with pytest.raises(VoiceError, match="sum to 0"):
        mix([(a, 0.0), (b, 0.0)])
    with pytest.raises(VoiceError, match=">= 0"):
        mix([(a, math.nan), (b, 1.0)])
    with pytest.raises(VoiceError, match="cancel"):
        mix([(a, 1.0), (-a, 1.0)])
    with pytest.raises(VoiceError, match="no voices"):
        mix([])


def test_dimension_mismatch_names_both_sizes() -> None:
    small, large = rand_voice(1, dim=1024), rand_voice(2, dim=2048)
    for call in (
        lambda: mix([(small, 0.5), (large, 0.5)]),
        lambda: slerp(small, large, 0.5),
        lambda: apply_direction(small, large, 1.0),
        lambda: learn_direction([small], [large]),
        lambda: nearest(small, [("big", large)], 1),
        lambda: cosine(small, large),
    ):
        with pytest.raises(VoiceError, match=r"1024 values.*2048 values"):
            call()


# -- slerp -----------------------------------------------------------------------


def test_slerp_endpoints_are_exact() -> None:
    a, b = rand_voice(10, scale=2.0), rand_voice(11)
    assert np.array_equal(slerp(a, b, 0.0), a)
    assert np.array_equal(slerp(a, b, 1.0), b)


@settings(max_examples=40, deadline=None)
@given(seeds, seeds, st.floats(0.0, 1.0))
def test_slerp_angle_is_proportional_and_norm_linear(s1: int, s2: int, t: float) -> None:
    a, b = rand_voice(s1, scale=3.0), rand_voice(s2 + 20_000, scale=0.7)
    theta = angle(a, b)
    s = slerp(a, b, t)
    assert angle(a, s) == pytest.approx(t * theta, abs=2e-3)
    assert angle(s, b) == pytest.approx((1 - t) * theta, abs=2e-3)
    assert norm(s) == pytest.approx((1 - t) * norm(a) + t * norm(b), rel=1e-5)


def test_slerp_midpoint_of_orthogonal_unit_vectors() -> None:
    a = np.zeros(DIM, np.float32)
    b = np.zeros(DIM, np.float32)
    a[0], b[1] = 1.0, 2.0
    mid = slerp(a, b, 0.5)
    # 45 degrees from each, length 1.5 (a plain average would be shorter, off the shell).
    assert angle(a, mid) == pytest.approx(math.pi / 4, abs=1e-6)
    assert angle(mid, b) == pytest.approx(math.pi / 4, abs=1e-6)
    assert np.allclose(mid[:2], [1.5 / math.sqrt(2), 1.5 / math.sqrt(2)], atol=1e-6)


def test_slerp_of_parallel_voices_interpolates_length() -> None:
    a = rand_voice(12)
    assert np.allclose(slerp(a, 3 * a, 0.5), 2 * a, atol=1e-5)


def test_slerp_rejects_opposite_voices_and_t_outside_0_1() -> None:
    a = rand_voice(13)
    with pytest.raises(VoiceError, match="opposite"):
        slerp(a, -a, 0.5)
    with pytest.raises(VoiceError, match="between 0 and 1"):
        slerp(a, rand_voice(14), 1.5)


# -- directions ------------------------------------------------------------------


def test_direction_moves_negative_mean_to_positive_mean() -> None:
    pos = [rand_voice(s) for s in (20, 21, 22)]
    neg = [rand_voice(s) for s in (30, 31)]
    d = learn_direction(pos, neg)
    neg_mean = np.mean(neg, axis=0)
    assert np.allclose(apply_direction(neg_mean, d, 1.0), np.mean(pos, axis=0), atol=1e-5)
    v = rand_voice(40)
    assert np.array_equal(apply_direction(v, d, 0.0), v)
    assert np.allclose(apply_direction(v, d, -0.5), v - 0.5 * d, atol=1e-6)


def test_direction_recovers_a_planted_attribute() -> None:
    """Voices that differ only along a hidden attribute vector give back that vector."""
    rng = np.random.default_rng(50)
    attribute = np.zeros(DIM)
    attribute[[3, 17, 41]] = [2.0, -1.5, 1.0]
    base = [rng.normal(size=DIM) for _ in range(6)]
    pos = [(b + attribute).astype(np.float32) for b in base[:3]]
    neg = [b.astype(np.float32) for b in base[3:]]
    paired = learn_direction(pos, [(b - attribute).astype(np.float32) for b in base[:3]])
    assert np.allclose(paired, 2 * attribute, atol=1e-5)
    # With unrelated voices on each side and sparse selection, the planted dimensions win.
    noisy_pos = [(b + 4 * attribute + 0.1 * rng.normal(size=DIM)).astype(np.float32) for b in base[3:]]
    sparse = learn_direction(noisy_pos, neg, top_dims=3)
    assert set(np.flatnonzero(sparse)) == {3, 17, 41}
    assert cosine(sparse, attribute) > 0.99


def test_top_dims_with_one_voice_per_side_keeps_largest_differences() -> None:
    a = np.arange(1, DIM + 1, dtype=np.float32)
    b = np.zeros(DIM, np.float32)
    b[0] = 1.0
    d = learn_direction([a], [b], top_dims=2)
    assert set(np.flatnonzero(d)) == {DIM - 1, DIM - 2}


def test_direction_errors() -> None:
    a = rand_voice(60)
    with pytest.raises(VoiceError, match="same mean"):
        learn_direction([a], [a])
    with pytest.raises(VoiceError, match="at least one"):
        learn_direction([a], [])
    with pytest.raises(VoiceError, match="top_dims"):
        learn_direction([a], [rand_voice(61)], top_dims=DIM + 1)
    with pytest.raises(VoiceError, match="finite"):
        apply_direction(a, a, math.inf)


# -- nearest ---------------------------------------------------------------------


def test_nearest_orders_by_cosine_not_by_length() -> None:
    q = np.zeros(8, np.float32)
    q[0] = 1.0
    candidates = []
    for i, deg in enumerate([80, 10, 45, 30, 170]):
        v = np.zeros(8, np.float32)
        v[0], v[1] = math.cos(math.radians(deg)), math.sin(math.radians(deg))
        candidates.append((f"v{deg}", v * (i + 1) * 10))  # lengths must not matter
    result = nearest(q, candidates, k=3)
    assert [name for name, _ in result] == ["v10", "v30", "v45"]
    assert [score for _, score in result] == pytest.approx(
        [math.cos(math.radians(d)) for d in (10, 30, 45)], abs=1e-6
    )
    assert [n for n, _ in nearest(q, candidates, k=10)] == ["v10", "v30", "v45", "v80", "v170"]


def test_nearest_breaks_ties_by_name_and_checks_k() -> None:
    q = rand_voice(70)
    result = nearest(q, [("b", q * 2), ("a", q), ("c", -q)], k=3)
    assert [name for name, _ in result] == ["a", "b", "c"]
    assert result[2][1] == pytest.approx(-1.0)
    assert nearest(q, [], k=3) == []
    with pytest.raises(VoiceError, match="at least 1"):
        nearest(q, [("a", q)], k=0)
    with pytest.raises(VoiceError, match="'z' is all zeros or holds NaN/inf"):
        nearest(q, [("a", q), ("z", np.zeros_like(q))], k=1)
    with pytest.raises(VoiceError, match="'n' is all zeros or holds NaN/inf"):
        nearest(q, [("n", np.full_like(q, np.nan))], k=1)


# -- morph -----------------------------------------------------------------------


def test_morph_linear_and_ease_progress_values() -> None:
    a, b = rand_voice(80), rand_voice(81)
    linear = MorphSchedule(a, b, duration_s=4.0)
    ease = MorphSchedule(a, b, duration_s=4.0, curve="ease")
    for t, lin, eased in [(-1, 0, 0), (0, 0, 0), (1, 0.25, 0.1464466), (2, 0.5, 0.5), (3, 0.75, 0.8535534)]:
        assert linear.progress(t) == pytest.approx(lin)
        assert ease.progress(t) == pytest.approx(eased, abs=1e-7)
    assert linear.progress(4) == ease.progress(4) == linear.progress(100) == 1.0


def test_morph_at_follows_slerp_and_ends_exactly() -> None:
    a, b = rand_voice(82, scale=2.0), rand_voice(83)
    morph = MorphSchedule(a, b, duration_s=2.0, curve="ease")
    assert np.array_equal(morph.at(0.0), a)
    assert np.array_equal(morph.at(-5.0), a)
    assert np.allclose(morph.at(1.0), slerp(a, b, 0.5), atol=1e-6)
    assert np.allclose(morph.at(0.5), slerp(a, b, morph.progress(0.5)), atol=1e-6)
    assert np.array_equal(morph.at(2.0), b)
    assert np.array_equal(morph.at(9.0), b)
    assert not morph.done(1.999)
    assert morph.done(2.0)
    theta = angle(a, b)
    angles = [angle(a, morph.at(t)) for t in np.linspace(0, 2, 9)]
    assert all(x <= y + 1e-6 for x, y in itertools.pairwise(angles))
    assert angles[-1] == pytest.approx(theta, abs=1e-5)


def test_morph_zero_duration_jumps_and_inputs_are_frozen() -> None:
    a, b = rand_voice(84), rand_voice(85)
    morph = MorphSchedule(a, b, duration_s=0.0)
    assert morph.done(0.0)
    assert np.array_equal(morph.at(0.0), b)
    a[:] = 0  # the schedule keeps its own copy
    assert np.any(morph.from_)
    with pytest.raises(ValueError):
        morph.to[0] = 1.0


def test_morph_validation() -> None:
    a = rand_voice(86)
    with pytest.raises(VoiceError, match="curve"):
        MorphSchedule(a, rand_voice(87), 1.0, curve="bounce")
    with pytest.raises(VoiceError, match="duration"):
        MorphSchedule(a, rand_voice(87), -1.0)
    with pytest.raises(VoiceError, match=r"1024 values.*2048 values"):
        MorphSchedule(rand_voice(1, 1024), rand_voice(2, 2048), 1.0)
    with pytest.raises(VoiceError, match="opposite"):
        MorphSchedule(a, -a, 1.0)
