"""Who the visitors with a silent browser are, from the mix of events they send the server.

A visitor whose browser sent nothing, ever, while the server saw them is a person whose blocker
stops every client copy, or a bot (a crawler that runs no JavaScript, a headless browser the
crawler list does not name). A log cannot tell them apart one by one, and the two readings give
very different losses: the estimate shows both (the Bots line).

Their events can tell them apart in the aggregate. People who block behave much like people who
do not, so per visitor they send the server the same mix of event types as the visitors whose
browser talks; bots read pages but rarely click, add to a cart or order. With a share ``q`` of
people among the silent visitors, each acting like the talking ones, and bots that send any
number of each event type, the ratio per visitor of an event type's server copies,
``silent / talking``, is at least ``q`` for every event type. The smallest ratio is therefore
an upper bound on the share of people: where page views come at 1.3 times the talking rate and
added-to-cart events at 0.35 times, at most about 35% of the silent visitors act like people.
Counting no more people among them than that (their copies at the talking rate, the rest left
out as bots'), the client's loss of each event type is at most what it then comes to.

The talking visitors counted are those the server saw at least once, as every silent visitor
was; the ratios' intervals come from the same bootstrap over visitor groups as the estimate's,
and the bound's upper end allows for its being the least of several ratios (Bonferroni).
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np

from simulator.experiments.estimate.resampling import loss_interval, resampled_sums, spread
from simulator.experiments.estimate.run_contract import record_number
from simulator.stats.capture_recapture import (
    Z95,
    two_source,
)

MIN_EXPECTED = 30.0
"""An event type bounds the share of people when the silent visitors, at the talking visitors'
rate, would have sent it at least this many times (fewer leave its ratio too noisy)."""


NONE_SENT = -math.log(0.025)
"""Where the silent visitors sent none of an event type, the upper end of its ratio is this
over the count expected at the talking rate: the mean of a Poisson count of which 0 has
probability 2.5%."""


def silent_visitor_mix(
    event: np.ndarray,
    group: np.ndarray,
    silent: np.ndarray,
    cells: np.ndarray,
    visitors: tuple[np.ndarray, np.ndarray, np.ndarray],
    names: list[str],
    seed: int = 0,
    replicates: int = 200,
) -> dict[str, Any] | None:
    """Per event type, silent visitors' server copies per visitor against talking visitors'.

    Parameters
    ----------
    event, group : numpy.ndarray
        Event type code and visitor group of each entry of counts.
    silent : numpy.ndarray
        Whether the entry's visitors never sent a client copy (bool).
    cells : numpy.ndarray
        Shape (entries, 3): the entry's events seen by both paths, the client only and the
        server only.
    visitors : tuple of numpy.ndarray
        Per visitor group entry: its ``group``, visitors the server saw (``s > 0``) and silent
        visitors among them.
    names : list of str
        The name of each event type code.
    seed, replicates : int
        The bootstrap's seed and resamples.

    Returns
    -------
    dict or None
        ``events`` (per event type: ``event``, ``ratio`` with ``ratio_ci``, ``expected``: the
        silent visitors' server copies at the talking rate) and, when an event type has
        :data:`MIN_EXPECTED` of them, ``people_at_most`` (the smallest such ratio, at most 1)
        with ``people_at_most_ci`` and ``from_event``, ``most_event`` (the largest ratio's) and
        ``mix_differs`` (some ratio's interval lies wholly above another's), and
        ``loss_at_most`` (:func:`_loss_at_most`). None without silent or talking visitors.
    """
    n_types = len(names)
    v_group, seen, quiet = visitors
    # Features: each event type's server copies from silent and from talking visitors, the
    # talking visitors' events seen by both paths and by the client only, then the silent and
    # the talking visitors themselves.
    talking = ~silent
    feature = np.concatenate([np.where(silent, event, n_types + event),
                              2 * n_types + event[talking], 3 * n_types + event[talking],
                              np.full(v_group.size, 4 * n_types),
                              np.full(v_group.size, 4 * n_types + 1)])  # fmt: skip
    values = np.concatenate([cells[:, 0] + cells[:, 2], cells[talking, 0], cells[talking, 1],
                             quiet, seen - quiet]).astype(float)  # fmt: skip
    at = np.concatenate([group, group[talking], group[talking], v_group, v_group])
    sums = resampled_sums(at, feature, 4 * n_types + 2, values, replicates, seed)
    n_silent, n_talking = sums[:, 4 * n_types], sums[:, 4 * n_types + 1]
    if not n_silent[0] or not n_talking[0]:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        rate_silent = sums[:, :n_types] / n_silent[:, None]
        rate_talking = sums[:, n_types : 2 * n_types] / n_talking[:, None]
        log_ratio = np.log(rate_silent / rate_talking)
    log_ratio[~np.isfinite(log_ratio)] = np.nan
    sd = spread(log_ratio[1:])
    expected = rate_talking[0] * n_silent[0]
    none = sums[0, :n_types] == 0  # none sent: a Poisson count of 0 bounds the ratio
    ratio = np.where(none, 0.0, np.exp(log_ratio[0]))
    lo, hi = _ends(log_ratio[0], sd, expected, none, Z95, NONE_SENT)
    present = np.flatnonzero(sums[0, n_types : 2 * n_types] > 0)
    rows = [{"event": names[e], "ratio": float(ratio[e]),
             "ratio_ci": [record_number(lo[e]), record_number(hi[e])],
             "expected": float(expected[e])} for e in present]  # fmt: skip
    out: dict[str, Any] = {"events": rows}
    usable = present[(expected[present] >= MIN_EXPECTED) & np.isfinite(lo[present])]
    if usable.size:
        low = usable[np.argmin(ratio[usable])]
        # The least is taken after seeing the k ratios: each end at level 1 - 0.025 / k, so the
        # share exceeds the least of them only if some ratio exceeds its own, 2.5% of the time.
        tail = 0.025 / usable.size
        _, ends = _ends(log_ratio[0], sd, expected, none, NormalDist().inv_cdf(1 - tail),
                        -math.log(tail))  # fmt: skip
        out["people_at_most"] = min(float(ratio[low]), 1.0)
        out["people_at_most_ci"] = [min(float(lo[low]), 1.0), min(float(ends[usable].min()), 1.0)]
        out["from_event"] = names[low]
        out["most_event"] = names[usable[np.argmax(ratio[usable])]]
        out["mix_differs"] = bool(lo[usable].max() > hi[usable].min())
        out["loss_at_most"] = _loss_at_most(sums, n_types, out["people_at_most_ci"][1], names)
    return out


def _loss_at_most(sums: np.ndarray, n_types: int, people: float, names: list[str]) -> list:
    """Per event type, the client's loss if a share ``people`` of the silent visitors are people.

    Those act like the talking visitors, so they send the server ``people`` times the silent
    visitors' count at the talking rate of each event type (no more than the silent visitors
    sent), and the client missed all of it; the rest of the silent visitors' copies are bots'
    and left out. With ``people`` the bound's upper end, the loss is at most this (the loss
    without any silent visitor is the least). Chapman's loss, with its bootstrap interval.
    """
    silent_copies, talking_copies = sums[:, :n_types], sums[:, n_types : 2 * n_types]
    n11, n10 = sums[:, 2 * n_types : 3 * n_types], sums[:, 3 * n_types : 4 * n_types]
    n_silent, n_talking = sums[:, 4 * n_types, None], sums[:, 4 * n_types + 1, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        persons = np.minimum(silent_copies, people * n_silent * talking_copies / n_talking)
    loss = two_source(n11, n10, talking_copies - n11 + np.nan_to_num(persons)).client_loss
    lo, hi = loss_interval(loss[0], loss[1:])
    return [{"event": names[e], "client_loss": record_number(loss[0, e]),
             "client_loss_ci": [record_number(lo[e]), record_number(hi[e])]}
            for e in np.flatnonzero(talking_copies[0] > 0)]  # fmt: skip


def _ends(
    log_ratio: np.ndarray,
    sd: np.ndarray,
    expected: np.ndarray,
    none: np.ndarray,
    z: float,
    poisson: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Ends of the ratios' intervals, ``z`` standard errors either side on the log scale.

    Where the silent visitors sent none of an event type (``none``) they run from 0 to
    ``poisson`` over its ``expected`` count, at most 1.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(none, 0.0, np.exp(log_ratio - z * sd))
        hi = np.where(none, np.minimum(poisson / expected, 1.0), np.exp(log_ratio + z * sd))
    return lo, hi


__all__ = ["MIN_EXPECTED", "NONE_SENT", "silent_visitor_mix"]
