"""Voice algebra on speaker embeddings: mix, SLERP, attribute directions, search, morph.

Pure numpy, no I/O. Inputs are 1-D embeddings (any float dtype, computed in float64);
results are float32. Embeddings of different dimensions never mix: every function
raises :class:`~livevoice.voices.embedding.VoiceError` naming both dimensions.

**Norms.** Qwen3-TTS speaker embeddings are not L2-normalised: the talker reads the
vector as one input position, so its length matters as much as its direction, and
real voices sit on a shell of typical lengths. A plain weighted average of two
dissimilar vectors falls inside that shell (two orthogonal vectors of length 1
average to length 0.71), which the model never saw. So the algebra works on
*direction* and *length* separately:

- :func:`slerp` rotates the direction along the great circle and interpolates the
  length linearly: ``|slerp(a, b, t)| = (1 - t)|a| + t|b|``.
- :func:`mix` takes the normalised weighted sum of the unit directions (the
  "normalised linear interpolation" generalised to many voices) and gives it the
  weighted mean length. For two voices of equal weight this is exactly the SLERP
  midpoint.
- :func:`apply_direction` adds a learned difference vector as it is (a direction
  may legitimately change the length, e.g. "louder" or "deeper").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from livevoice.voices.embedding import VoiceError

FloatArray = npt.NDArray[np.float32]
F64Array = npt.NDArray[np.float64]

CURVES = ("linear", "ease")
"""Morph curves: ``linear`` (constant speed) and ``ease`` (sine ease-in-out)."""

_PARALLEL_EPS = 1e-7
"""Below this angle (radians) SLERP falls back to normalised linear interpolation."""
_CANCEL_EPS = 1e-6
"""A weighted sum of unit directions shorter than this has no direction."""


def _vector(values: npt.ArrayLike, label: str) -> F64Array:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise VoiceError(f"{label} has shape {tuple(array.shape)}; an embedding is 1-D")
    if not np.all(np.isfinite(array)):
        raise VoiceError(f"{label} holds NaN/inf values")
    return array


def _split(vector: F64Array, label: str) -> tuple[F64Array, float]:
    """Unit direction and length of ``vector``."""
    norm = float(np.linalg.norm(vector))
    if norm == 0.0:
        raise VoiceError(f"{label} is all zeros; it has no direction")
    return vector / norm, norm


def check_same_dim(named: Sequence[tuple[str, npt.ArrayLike]], action: str = "combine") -> int:
    """The common dimension of the named embeddings; :class:`VoiceError` naming both sizes if they differ.

    ``action`` words the message ("mix", "compare", ...).
    """
    if not named:
        raise VoiceError(f"nothing to {action}: no voices given")
    first_name, first = named[0]
    dim = int(np.asarray(first).size)
    for name, values in named[1:]:
        other = int(np.asarray(values).size)
        if other != dim:
            raise VoiceError(
                f"cannot {action} {first_name!r} ({dim} values) with {name!r} ({other} values): "
                "embeddings of different models never mix"
            )
    return dim


def _labelled(vectors: Sequence[npt.ArrayLike], prefix: str) -> list[tuple[str, npt.ArrayLike]]:
    return [(f"{prefix} {i}", v) for i, v in enumerate(vectors)]


def mix(vectors_and_weights: Sequence[tuple[npt.ArrayLike, float]]) -> FloatArray:
    """Weighted mix of embeddings: normalised weighted sum of directions, weighted mean length.

    Weights must be finite and >= 0 with a positive sum; they are normalised to sum 1,
    so ``[(a, 7), (b, 3)]`` equals ``[(a, 0.7), (b, 0.3)]``. A voice alone (or with
    all other weights 0) comes back unchanged. Directions that cancel out (e.g. two
    opposite voices at 50/50) raise :class:`VoiceError`.
    """
    if not vectors_and_weights:
        raise VoiceError("nothing to mix: no voices given")
    vectors = [v for v, _ in vectors_and_weights]
    check_same_dim(_labelled(vectors, "voice"), "mix")
    weights = np.array([float(w) for _, w in vectors_and_weights], dtype=np.float64)
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise VoiceError(f"mix weights must be finite and >= 0, got {weights.tolist()}")
    total = float(weights.sum())
    if total <= 0:
        raise VoiceError("mix weights sum to 0; give at least one voice a positive weight")
    weights /= total
    used = np.flatnonzero(weights)
    if used.size == 1:
        only = vectors[int(used[0])]
        return _vector(only, "voice").astype(np.float32)
    direction_sum = np.zeros(np.asarray(vectors[0]).size, dtype=np.float64)
    length = 0.0
    for i, (vector, weight) in enumerate(zip(vectors, weights, strict=True)):
        unit, norm = _split(_vector(vector, f"voice {i}"), f"voice {i}")
        direction_sum += weight * unit
        length += weight * norm
    sum_norm = float(np.linalg.norm(direction_sum))
    if sum_norm < _CANCEL_EPS:
        raise VoiceError("the mixed voices point in opposite directions and cancel out")
    result: FloatArray = (direction_sum / sum_norm * length).astype(np.float32)
    return result


def angle(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """Angle between two embeddings (radians, 0..pi)."""
    check_same_dim([("a", a), ("b", b)], "compare")
    ua, _ = _split(_vector(a, "a"), "a")
    ub, _ = _split(_vector(b, "b"), "b")
    return math.acos(max(-1.0, min(1.0, float(ua @ ub))))


def cosine(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """Cosine similarity of two embeddings (-1..1)."""
    check_same_dim([("a", a), ("b", b)], "compare")
    ua, _ = _split(_vector(a, "a"), "a")
    ub, _ = _split(_vector(b, "b"), "b")
    return max(-1.0, min(1.0, float(ua @ ub)))


def slerp(a: npt.ArrayLike, b: npt.ArrayLike, t: float) -> FloatArray:
    """Spherical interpolation from ``a`` (t=0) to ``b`` (t=1), lengths interpolated linearly.

    The direction turns at constant angular speed along the great circle through
    ``a`` and ``b`` (angle to ``a`` = t·θ); the length is ``(1-t)|a| + t|b|``.
    ``t`` must lie in [0, 1]; t=0 and t=1 return ``a`` and ``b`` exactly. Opposite
    directions (θ = π) have no unique great circle and raise :class:`VoiceError`.
    """
    check_same_dim([("from", a), ("to", b)], "interpolate")
    t = float(t)
    if not 0.0 <= t <= 1.0:
        raise VoiceError(f"slerp position t = {t} must be between 0 and 1")
    va, vb = _vector(a, "from"), _vector(b, "to")
    ua, norm_a = _split(va, "from")
    ub, norm_b = _split(vb, "to")
    if t == 0.0:
        return va.astype(np.float32)
    if t == 1.0:
        return vb.astype(np.float32)
    cos_theta = max(-1.0, min(1.0, float(ua @ ub)))
    theta = math.acos(cos_theta)
    if math.pi - theta < 1e-6:
        raise VoiceError("the two voices point in opposite directions; slerp between them is undefined")
    if theta < _PARALLEL_EPS:
        direction = (1.0 - t) * ua + t * ub
        direction /= np.linalg.norm(direction)
    else:
        sin_theta = math.sin(theta)
        direction = (math.sin((1.0 - t) * theta) * ua + math.sin(t * theta) * ub) / sin_theta
    length = (1.0 - t) * norm_a + t * norm_b
    result: FloatArray = (direction * length).astype(np.float32)
    return result


def learn_direction(
    pos: Sequence[npt.ArrayLike], neg: Sequence[npt.ArrayLike], *, top_dims: int = 0
) -> FloatArray:
    """An attribute direction from a few labelled voices: mean(pos) - mean(neg).

    The direction is the difference of the group means in embedding space, so
    ``apply_direction(mean(neg), d, 1.0) == mean(pos)``: strength 1 moves a voice by
    the average difference between the groups.

    ``top_dims > 0`` keeps only the ``top_dims`` most discriminative dimensions and
    zeroes the rest. Dimensions are ranked by a moderated t-statistic
    ``|diff_i| / (s_i + s0)``, with ``s_i`` the pooled within-group standard deviation
    of dimension i and ``s0`` the median of all ``s_i`` (the "fudge factor" of SAM,
    Tusher et al. 2001, which keeps dimensions with tiny, noisy variance from winning
    with a handful of samples). With one voice per group there is no variance and the
    ranking is by ``|diff_i|``.
    """
    if not pos or not neg:
        raise VoiceError("a direction needs at least one positive and one negative voice")
    labelled = _labelled(pos, "positive voice") + _labelled(neg, "negative voice")
    dim = check_same_dim(labelled, "combine")
    if top_dims < 0 or top_dims > dim:
        raise VoiceError(f"top_dims = {top_dims} must be between 0 (all) and the dimension {dim}")
    p = np.stack([_vector(v, label) for label, v in labelled[: len(pos)]])
    n = np.stack([_vector(v, label) for label, v in labelled[len(pos) :]])
    diff = p.mean(axis=0) - n.mean(axis=0)
    if not np.any(diff):
        raise VoiceError("the positive and negative voices have the same mean; there is no direction")
    if top_dims:
        dof = len(p) + len(n) - 2
        if dof > 0:
            squares = ((p - p.mean(axis=0)) ** 2).sum(axis=0) + ((n - n.mean(axis=0)) ** 2).sum(axis=0)
            spread = np.sqrt(squares / dof)
        else:
            spread = np.zeros(dim)
        fudge = float(np.median(spread))
        denominator = spread + fudge if fudge > 0 else np.ones(dim)
        score = np.abs(diff) / np.where(denominator > 0, denominator, 1.0)
        keep = np.argsort(-score, kind="stable")[:top_dims]
        sparse = np.zeros(dim)
        sparse[keep] = diff[keep]
        diff = sparse
    result: FloatArray = diff.astype(np.float32)
    return result


def apply_direction(voice: npt.ArrayLike, direction: npt.ArrayLike, strength: float) -> FloatArray:
    """``voice + strength * direction`` (strength 0 = unchanged, negative = the opposite way)."""
    check_same_dim([("voice", voice), ("direction", direction)], "apply a direction to")
    strength = float(strength)
    if not math.isfinite(strength):
        raise VoiceError(f"direction strength {strength} must be a finite number")
    v = _vector(voice, "voice")
    if strength == 0.0:
        return v.astype(np.float32)
    result: FloatArray = (v + strength * _vector(direction, "direction")).astype(np.float32)
    return result


def nearest(
    query: npt.ArrayLike, candidates: Sequence[tuple[str, npt.ArrayLike]], k: int = 5
) -> list[tuple[str, float]]:
    """The ``k`` candidates most similar to ``query`` by cosine, best first.

    ``candidates`` are ``(name, embedding)`` pairs; the result is ``(name, cosine)``
    pairs sorted by decreasing cosine, ties by name. A candidate of another dimension
    raises :class:`VoiceError` naming it and both sizes.
    """
    if k < 1:
        raise VoiceError(f"k = {k} must be at least 1")
    uq, _ = _split(_vector(query, "query"), "query")
    if not candidates:
        return []
    check_same_dim([("query", query), *candidates], "compare")
    matrix = np.stack([np.asarray(v).reshape(-1) for _, v in candidates]).astype(np.float64)
    norms = np.linalg.norm(matrix, axis=1)
    bad = np.flatnonzero(~np.isfinite(norms) | (norms == 0))
    if bad.size:
        raise VoiceError(f"voice {candidates[int(bad[0])][0]!r} is all zeros or holds NaN/inf values")
    scores = np.clip(matrix @ uq / norms, -1.0, 1.0)
    ranked = sorted(
        zip(scores.tolist(), (name for name, _ in candidates), strict=True),
        key=lambda pair: (-pair[0], pair[1]),
    )
    return [(name, float(score)) for score, name in ranked[:k]]


def _ease(x: float) -> float:
    return (1.0 - math.cos(math.pi * x)) / 2.0


@dataclass(frozen=True, eq=False)
class MorphSchedule:
    """A voice that moves from ``from_`` to ``to`` over ``duration_s`` seconds.

    :meth:`at` gives the embedding ``t_s`` seconds after the morph started: the SLERP
    of the two (lengths interpolated linearly) at the curve's progress. Curves map
    elapsed fraction x in [0, 1] to progress: ``linear`` = x, ``ease`` =
    (1 - cos(pi·x)) / 2 (slow start and end, fastest at the middle). Before the start
    it is ``from_``; from ``duration_s`` on it is exactly ``to``. The daemon evaluates
    it at each phrase start, so a phrase keeps one voice.
    """

    from_: FloatArray
    """Embedding at t = 0."""
    to: FloatArray
    """Embedding from t = duration_s on."""
    duration_s: float
    """Length of the morph (s); 0 = jump to ``to`` at once."""
    curve: str = "linear"
    """One of :data:`CURVES`."""

    def __post_init__(self) -> None:
        if self.curve not in CURVES:
            raise VoiceError(f"morph curve {self.curve!r} is not one of {', '.join(CURVES)}")
        if not (math.isfinite(self.duration_s) and self.duration_s >= 0):
            raise VoiceError(f"morph duration {self.duration_s} s must be a finite number >= 0")
        slerp(self.from_, self.to, 0.5)  # validates shapes, sizes and that a path exists
        for name in ("from_", "to"):
            frozen = np.array(getattr(self, name), dtype=np.float32, copy=True)
            frozen.setflags(write=False)
            object.__setattr__(self, name, frozen)

    def progress(self, t_s: float) -> float:
        """Curve progress (0..1) ``t_s`` seconds after the start."""
        if self.duration_s == 0:
            return 1.0 if t_s >= 0 else 0.0
        x = min(1.0, max(0.0, t_s / self.duration_s))
        return x if self.curve == "linear" else _ease(x)

    def at(self, t_s: float) -> FloatArray:
        """The embedding ``t_s`` seconds after the start (float32)."""
        return slerp(self.from_, self.to, self.progress(t_s))

    def done(self, t_s: float) -> bool:
        """Whether the morph has arrived at ``to`` at ``t_s`` seconds after the start."""
        return t_s >= self.duration_s


__all__ = [
    "CURVES",
    "MorphSchedule",
    "angle",
    "apply_direction",
    "check_same_dim",
    "cosine",
    "learn_direction",
    "mix",
    "nearest",
    "slerp",
]
