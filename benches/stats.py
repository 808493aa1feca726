"""Small statistics for the benchmark: percentiles and bootstrap confidence intervals of ratios.

Pure Python (numpy is used when importable, only to go faster); deterministic (fixed seeds).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

try:  # optional: speeds up the bootstrap on 20,000-sample figures
    import numpy as _np
except ImportError:  # pragma: no cover - depends on the venv
    _np = None

BOOTSTRAP_RESAMPLES = 1000
_MAX_PURE_SAMPLES = 3000  # pure-Python bootstrap subsamples larger sets to this size


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation between closest ranks.

    Raises:
        ValueError: ``values`` is empty.
    """
    if not values:
        raise ValueError("percentile of no values")
    xs = sorted(values)
    return _sorted_percentile(xs, q)


def _sorted_percentile(xs: Sequence[float], q: float) -> float:
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summary(values: Sequence[float]) -> dict[str, float]:
    """``{"n", "median", "p90", "p99", "min", "mean"}`` of ``values`` (same unit as the input)."""
    xs = sorted(values)
    return {
        "n": len(xs),
        "median": _sorted_percentile(xs, 50),
        "p90": _sorted_percentile(xs, 90),
        "p99": _sorted_percentile(xs, 99),
        "min": xs[0],
        "mean": sum(xs) / len(xs),
    }


def bootstrap_ci(
    groups: Sequence[Sequence[float]],
    statistic: Callable[..., float],
    q: float = 50.0,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 12345,
) -> tuple[float, float] | None:
    """95 % percentile-bootstrap interval of ``statistic(*per_group_percentiles)``.

    Each group is resampled with replacement, its ``q``-th percentile taken, and ``statistic`` applied
    to the tuple of those percentiles (e.g. ``lambda a, b: a / b`` for a ratio of medians).

    Returns:
        ``(low, high)``, or None when a group is empty or the statistic is undefined on every resample.
    """
    if any(len(g) == 0 for g in groups):
        return None
    rng = random.Random(seed)
    prepared = []
    for g in groups:
        g = list(g)
        if _np is None and len(g) > _MAX_PURE_SAMPLES:
            g = rng.sample(g, _MAX_PURE_SAMPLES)
        prepared.append(_np.asarray(g, dtype=float) if _np is not None else g)
    out = []
    if _np is not None:
        gen = _np.random.default_rng(seed)
        done = 0
        while done < resamples:
            rows = min(resamples - done, max(1, 2_000_000 // max(len(g) for g in prepared)))
            cols = [
                _np.percentile(g[gen.integers(0, len(g), size=(rows, len(g)))], q, axis=1) for g in prepared
            ]
            for ps in zip(*cols, strict=False):
                try:
                    out.append(statistic(*(float(p) for p in ps)))
                except ZeroDivisionError:
                    continue
            done += rows
    else:
        for _ in range(resamples):
            ps = [_sorted_percentile(sorted(rng.choices(g, k=len(g))), q) for g in prepared]
            try:
                out.append(statistic(*ps))
            except ZeroDivisionError:
                continue
    if not out:
        return None
    out.sort()
    return _sorted_percentile(out, 2.5), _sorted_percentile(out, 97.5)


def ratio(a: Sequence[float], b: Sequence[float], q: float = 50.0) -> dict[str, float | None] | None:
    """The ratio of the ``q``-th percentiles of ``a`` and ``b`` with its bootstrap 95 % interval.

    Returns:
        ``{"ratio", "low", "high"}`` or None when either set is empty or ``b``'s percentile is 0.
    """
    if not a or not b:
        return None
    pb = percentile(b, q)
    if pb == 0:
        return None
    ci = bootstrap_ci([a, b], lambda x, y: x / y, q=q)
    return {"ratio": percentile(a, q) / pb, "low": ci[0] if ci else None, "high": ci[1] if ci else None}
