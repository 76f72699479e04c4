"""Who is missing from the client's data: its composition corrected by weighting and raking.

Blocked visitors are not a random draw (privacy-minded desktop users block more than phone
users), so the shares of device, browser, country or channel among the events the client path
received are biased. Two steps correct them, per event type:

1. **Weighting.** Each event the client saw in stratum ``x`` (event type x the ``--by``
   columns) stands for ``1 / p_c(x)`` true events, with the client's capture rate in the
   Chapman form ``p_c = (n11 + 1) / (n11 + n01 + 1)``: finite when no event was seen by both,
   and 1 (no correction) when the server saw nothing. The weights of a stratum add up to about
   its Chapman estimate of the true count. The server's events are weighted likewise by
   ``1 / p_s(x)``, ``p_s = (n11 + 1) / (n11 + n10 + 1)``.
2. **Raking.** The weighted client events are then raked (iterative proportional fitting,
   Deming and Stephan 1940, listed in section 8 of ``docs/sources.md``) so that their shares of
   each raking column (device, browser, country) match the weighted server events' shares: the
   server path does not lose a visitor for blocking, so its margins show the visitors the
   client is missing, and raking carries that to the columns only the client knows (channel).

Intervals come from a bootstrap over visitors (in random groups, as for the loss), with every
step redone in each resample.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.experiments.estimate.resampling import (
    event_counts,
    groups_of,
    resampled_sums,
    spread,
)
from simulator.experiments.estimate.run_contract import record_number
from simulator.stats.capture_recapture import logit_interval, percentile_interval

SEGMENT_COLUMNS = ("device", "browser", "country", "channel")
"""Columns whose composition is reported when the log has them."""
RAKE_COLUMNS = ("device", "browser", "country")
"""Columns the server side knows (from the request), whose margins the client is raked to."""
SWEEPS = 200
"""At most this many raking sweeps over the columns."""
CONVERGED = 1e-9
"""Raking stops when no weight changes by more than this factor in a sweep, each resample on
its own: most stop within a few dozen sweeps, while one that lacks a cell the margins need (no
weights then match every margin) runs all :data:`SWEEPS`, alone."""
ALL_EVENTS = "(all events)"


def _index(*codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of each row's combination of codes, and the combinations (one row each)."""
    combined = np.zeros(codes[0].size, np.int64)
    for c in codes:
        combined = combined * (int(c.max(initial=0)) + 1) + c
    _, first, index = np.unique(combined, return_index=True, return_inverse=True)
    return index.ravel(), np.stack([c[first] for c in codes], axis=1)


def _sum_into(x: np.ndarray, index: np.ndarray, n: int) -> np.ndarray:
    """``x`` summed along its last axis into ``n`` bins: entry ``i`` goes to bin ``index[i]``.

    The product of ``x`` with a one-hot matrix, as one ``bincount`` over all leading rows.
    """
    lead = x.shape[:-1]
    rows = int(np.prod(lead, dtype=np.int64))
    flat = (np.arange(rows)[:, None] * n + index).ravel()
    sums = np.bincount(flat, np.reshape(x, (rows, -1)).ravel(), rows * n)
    return sums.reshape(*lead, n)


class _Design:
    """The counts a composition is computed from, and how they map onto each other.

    Features (summed over visitors): ``n11, n10, n01`` per stratum, then the client's events
    per client cell (stratum x every composition column), then the server's events per server
    cell (stratum x the raking columns).
    """

    def __init__(self, events: dict[str, np.ndarray], by, dims, rake) -> None:
        client, server = events["client"], events["server"]
        self.stratum, strata = _index(events["event"], *(events[b] for b in by))
        self.n_strata = strata.shape[0]
        self.event_of_stratum = strata[:, 0]
        self.n_events = int(events["event"].max(initial=-1)) + 1
        kind = np.where(client & server, 0, np.where(client, 1, 2))
        c_cell, c_combos = _index(self.stratum[client], *(events[d][client] for d in dims))
        s_cell, s_combos = _index(self.stratum[server], *(events[d][server] for d in rake))
        self.client_stratum, self.server_stratum = c_combos[:, 0], s_combos[:, 0]
        self.client_codes = {d: c_combos[:, 1 + i] for i, d in enumerate(dims)}
        self.server_codes = {d: s_combos[:, 1 + i] for i, d in enumerate(rake)}
        self.n_client, self.n_server = c_combos.shape[0], s_combos.shape[0]
        # The feature of every event's contribution (an event adds to 2 or 3 features).
        rows = [self.stratum * 3 + kind]
        base = 3 * self.n_strata
        rows.append(base + c_cell)
        rows.append(base + self.n_client + s_cell)
        self.owner = [np.arange(kind.size), np.flatnonzero(client), np.flatnonzero(server)]
        count = event_counts(events)
        self.values = [count, count[client], count[server]]
        self.n_features = base + self.n_client + self.n_server
        self.has_value = "value" in events and bool(np.any(events["value"][client] != 0))
        if self.has_value:  # then the client's value per client cell
            rows.append(self.n_features + c_cell)
            self.owner.append(np.flatnonzero(client))
            self.values.append(events["value"][client])
            self.n_features += self.n_client
        self.feature = np.concatenate(rows)

    def split(self, f: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Stratum cells (..., strata, 3), client cell counts and server cell counts."""
        base = 3 * self.n_strata
        cells = f[..., :base].reshape(*f.shape[:-1], self.n_strata, 3)
        end = base + self.n_client + self.n_server
        return cells, f[..., base : base + self.n_client], f[..., base + self.n_client : end]

    def value_sums(self, f: np.ndarray) -> np.ndarray:
        """The client's value per client cell (..., client cells)."""
        return f[..., 3 * self.n_strata + self.n_client + self.n_server :]


def _rake(design: _Design, f: np.ndarray, dims, rake) -> dict[str, np.ndarray]:
    """Client cell weights (rows of ``f`` are resamples): raw, weighted and raked."""
    cells, client, server = design.split(f)
    n11, n10, n01 = cells[..., 0], cells[..., 1], cells[..., 2]
    w_client = (n11 + n01 + 1.0) / (n11 + 1.0)
    w_server = (n11 + n10 + 1.0) / (n11 + 1.0)
    weighted = client * w_client[..., design.client_stratum]
    raked = weighted.copy()
    target_w = server * w_server[..., design.server_stratum]
    ev_c = design.event_of_stratum[design.client_stratum]
    ev_s = design.event_of_stratum[design.server_stratum]
    margins = []  # per raking column: categories, client cell -> margin, and the targets
    for d in rake:
        k = _categories(design, d)
        c_idx = ev_c * k + design.client_codes[d]
        n = design.n_events * k
        want = _sum_into(target_w, ev_s * k + design.server_codes[d], n)
        margins.append((k, c_idx, n, want))
    lead = raked.shape[:-1]
    raked = raked.reshape(-1, raked.shape[-1])
    targets = [want.reshape(raked.shape[0], -1) for *_, want in margins]
    active = np.arange(raked.shape[0])  # the resamples still moving
    for _ in range(SWEEPS if rake else 0):
        part, moved = raked[active], np.zeros(active.size)
        for (k, c_idx, n, _), every in zip(margins, targets, strict=True):
            target = every[active]
            have = _sum_into(part, c_idx, n)
            # Targets as shares of each event type's total, over the categories the client
            # has (a category only the server saw cannot be given weight).
            want = np.where(have > 0, target, 0.0)
            tot_have = have.reshape(*have.shape[:-1], design.n_events, k).sum(-1)
            tot_want = want.reshape(*want.shape[:-1], design.n_events, k).sum(-1)
            with np.errstate(divide="ignore", invalid="ignore"):
                scale = np.repeat(tot_have / tot_want, k, axis=-1)
                factor = np.where((have > 0) & (want > 0), want * scale / have, 1.0)
            part = part * factor[..., c_idx]
            moved = np.maximum(moved, np.max(np.abs(factor - 1.0), axis=-1, initial=0.0))
        raked[active] = part
        active = active[moved >= CONVERGED]
        if not active.size:
            break
    raked = raked.reshape(*lead, -1)
    return {"client": client, "weighted": weighted, "corrected": raked, "server": target_w}


def _categories(design: _Design, d: str) -> int:
    """How many category codes column ``d`` has on either path."""
    server = design.server_codes.get(d, np.zeros(0, np.int64))
    return int(max(design.client_codes[d].max(initial=0), server.max(initial=0))) + 1


def _shares(design: _Design, weights: np.ndarray, d: str, server: bool = False) -> np.ndarray:
    """Shares of each category of ``d`` per event type, plus all events pooled (last row)."""
    k = _categories(design, d)
    stratum = design.server_stratum if server else design.client_stratum
    codes = (design.server_codes if server else design.client_codes)[d]
    ev = design.event_of_stratum[stratum]
    sums = _sum_into(weights, ev * k + codes, design.n_events * k).reshape(
        *weights.shape[:-1], design.n_events, k
    )
    sums = np.concatenate([sums, sums.sum(-2, keepdims=True)], axis=-2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return sums / sums.sum(-1, keepdims=True)


def corrected_composition(
    events: dict[str, np.ndarray],
    labels: dict[str, dict[int, str]],
    by: tuple[str, ...],
    dims: tuple[str, ...],
    groups: int,
    seed: int = 0,
    replicates: int = 200,
) -> dict[str, Any]:
    """The client's composition per event type, raw and corrected, with bootstrap intervals.

    Parameters
    ----------
    events : dict
        One entry per real event, or per group of like events with their ``count`` (see
        :mod:`~simulator.experiments.estimate.segment_counts`): ``client``, ``server``,
        ``group`` (or ``visitor``), codes of ``event``, ``by`` and ``dims``, and optionally
        ``value`` (summed over the entry's events).
    labels : dict
        Column -> code -> category name.
    by : tuple of str
        The strata columns of the capture rates.
    dims : tuple of str
        The columns whose composition is reported.
    groups : int
        Visitors are resampled in this many random groups.
    seed : int
        Seed of the bootstrap.
    replicates : int
        Bootstrap resamples.

    Returns
    -------
    dict
        ``method``, ``rake`` (the raking columns) and ``rows``: per event type (and all events
        pooled), column and category, the raw ``client`` share, the ``weighted`` share, the
        ``corrected`` (weighted and raked) share with ``corrected_ci``, the ``server`` share
        (raking columns only) and ``shift`` (corrected minus client) with ``shift_ci``; when
        the events carry a ``value``, ``value``: per event type the client's total and mean
        value, raw and corrected, each with an interval.
    """
    rake = tuple(d for d in RAKE_COLUMNS if d in dims)
    out: dict[str, Any] = {
        "method": "client events weighted by 1 / p_c per stratum"
        + (f", raked to the server's {', '.join(rake)} margins" if rake else ""),
        "rake": list(rake),
        "rows": [],
    }
    if not dims or not events["client"].any():
        return out
    design = _Design(events, by, dims, rake)
    owner = np.concatenate(design.owner)
    group = groups_of(events, groups)[owner]
    values = np.concatenate(design.values)
    f = resampled_sums(group, design.feature, design.n_features, values, replicates, seed)
    fitted = _rake(design, f, dims, rake)
    server_share = {d: _shares(design, fitted["server"][:1], d, server=True)[0] for d in rake}
    for d in dims:
        raw, weighted, corrected = (
            _shares(design, fitted[s], d) for s in ("client", "weighted", "corrected")
        )
        shift = corrected - raw
        ci = {}
        for name, x in (("client", raw), ("corrected", corrected), ("shift", shift)):
            sd = spread(x[1:])
            if name == "shift":
                lo, hi = x[0] - 1.959963984540054 * sd, x[0] + 1.959963984540054 * sd
            else:
                lo, hi = logit_interval(x[0], sd, percentile_interval(x[1:]))
            ci[name] = (lo, hi, sd)
        names = [labels["event"][e] for e in range(design.n_events)] + [ALL_EVENTS]
        for e, event in enumerate(names):
            if not np.isfinite(raw[0, e]).any():
                continue
            for c in range(raw.shape[-1]):
                row = {
                    "event": event,
                    "dimension": d,
                    "category": labels[d][c],
                    "client": record_number(raw[0, e, c]),
                    "client_ci": [
                        record_number(ci["client"][0][e, c]),
                        record_number(ci["client"][1][e, c]),
                    ],
                    "weighted": record_number(weighted[0, e, c]),
                    "corrected": record_number(corrected[0, e, c]),
                    "corrected_ci": [
                        record_number(ci["corrected"][0][e, c]),
                        record_number(ci["corrected"][1][e, c]),
                    ],
                    "corrected_sd": record_number(ci["corrected"][2][e, c]),
                    "shift": record_number(shift[0, e, c]),
                    "shift_ci": [
                        record_number(ci["shift"][0][e, c]),
                        record_number(ci["shift"][1][e, c]),
                    ],
                    "server": record_number(server_share[d][e, c]) if d in server_share else None,
                }
                out["rows"].append(row)
    if design.has_value:
        out["value"] = _value_rows(design, f, fitted, labels)
    return out


def _value_rows(design: _Design, f: np.ndarray, fitted: dict, labels: dict) -> list[dict]:
    """Per event type with a value: the client's total and mean, raw and corrected."""
    ev = design.event_of_stratum[design.client_stratum]
    n = design.n_events
    value = design.value_sums(f)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(fitted["client"] > 0, fitted["corrected"] / fitted["client"], 0.0)
        raw_total, total = _sum_into(value, ev, n), _sum_into(value * scale, ev, n)
        raw_mean = raw_total / _sum_into(fitted["client"], ev, n)
        mean = total / _sum_into(fitted["corrected"], ev, n)
    stats = {}
    for name, x in (("client_total", raw_total), ("corrected_total", total),
                    ("client_mean", raw_mean), ("corrected_mean", mean),
                    ("mean_shift", mean - raw_mean)):  # fmt: skip
        sd = spread(x[1:])
        stats[name] = (x[0], x[0] - 1.959963984540054 * sd, x[0] + 1.959963984540054 * sd, sd)
    rows = []
    for e in range(design.n_events):
        if not raw_total[0, e]:
            continue
        row = {"event": labels["event"][e]}
        for name, (x, lo, hi, _sd) in stats.items():
            row[name] = record_number(x[e])
            row[f"{name}_ci"] = [record_number(lo[e]), record_number(hi[e])]
        row["corrected_mean_sd"] = record_number(stats["corrected_mean"][3][e])
        rows.append(row)
    return rows


__all__ = [
    "ALL_EVENTS",
    "RAKE_COLUMNS",
    "SEGMENT_COLUMNS",
    "corrected_composition",
]
