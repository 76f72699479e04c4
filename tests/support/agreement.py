"""Whether two settlers' counts agree in distribution: Welch's t test per count, Bonferroni.

Each row of ``a`` and ``b`` is one independent unit (a synthetic visit, or a replication), each
column a count. Every count's mean is compared with Welch's t test; a count constant in both
samples but different between them gets p = 0. The smallest p times the number of comparisons
is the family's corrected p; tests redraw once with fresh seeds when it is small, as scipy's
distribution tests do.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats

FAMILY_ALPHA = 0.01
"""The level of each family of comparisons (after the Bonferroni correction)."""


def worst_corrected_p(a: np.ndarray, b: np.ndarray) -> tuple[float, tuple]:
    """Bonferroni-corrected smallest p over the counts, and the index of that count."""
    varied = (a.std(axis=0) + b.std(axis=0)) > 0
    p = np.ones(a.shape[1:])
    p[varied] = stats.ttest_ind(a[:, varied], b[:, varied], equal_var=False).pvalue
    same = ~varied & (a[0] != b[0])  # constant within each sample but different between them
    p[same] = 0.0
    worst = np.unravel_index(np.argmin(p), p.shape)
    return float(p[worst]) * int(varied.sum() + same.sum()), worst


def engine_worst_p(sc, root: int, replications: int) -> tuple[float, tuple]:
    """The engine's totals on arrays against page by page, over ``replications`` each."""
    from simulator.model.engine import Replication

    seeds = np.random.SeedSequence(root).spawn(2 * replications)
    a, b = (
        np.stack([Replication(sc, s, paged=paged).run()[0].totals() for s in part])
        for paged, part in ((False, seeds[:replications]), (True, seeds[replications:]))
    )
    return worst_corrected_p(a, b)


def with_one_redraw(
    corrected_p: Callable[[int], tuple[float, tuple]], first: int, second: int
) -> tuple[float, tuple]:
    """``corrected_p(first)``, or ``corrected_p(second)`` (fresh seeds) when the first is small."""
    corrected, worst = corrected_p(first)
    if corrected < FAMILY_ALPHA:
        corrected, worst = corrected_p(second)
    return corrected, worst


def assert_engine_agrees(sc) -> None:
    """The engine on arrays agrees with page by page over 10 replications each, one redraw."""
    from simulator.model.tally import MEASURES

    corrected, worst = with_one_redraw(lambda root: engine_worst_p(sc, root, 10), 11, 12)
    plan, event, measure = worst
    assert corrected >= FAMILY_ALPHA, (sc.plans[plan].name, sc.events[event].name,
                                       MEASURES[measure], corrected)  # fmt: skip


def slow_but(default_run: tuple[str, ...], names) -> list:
    """``names`` as test parameters, all but ``default_run`` marked ``slow`` (``-m slow``)."""
    return [n if n in default_run else pytest.param(n, marks=pytest.mark.slow) for n in names]
