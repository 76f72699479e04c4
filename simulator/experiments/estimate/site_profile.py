"""What a site's own logs say about its visitors: segments, blocking and the rest of the loss.

Per segment (device x browser, as the log names them) the profile gives the visitors' share,
their countries and channels, and the share of them whose browser sends nothing (a blocker),
and per device the client's loss among visitors who are not blocked (failed requests and
requests cancelled by a page unload). :mod:`~simulator.experiments.estimate.scenario_writer`
turns it into a scenario, so that a simulation can start from the site's own figures.

**Blocked share.** Among the visitors the server saw, those with no client copy at all are
blocked, or unlucky: a visitor who does not block but whose ``k`` server-seen events all missed
the client, which happens with probability ``(1 - p)^k`` (``p`` the unblocked capture rate).
Each visitor with client copies stands for ``1 / (1 - (1 - p)^k)`` unblocked visitors, of whom
``(1 - p)^k / (1 - (1 - p)^k)`` look blocked; those are subtracted. ``p`` is estimated from the
visitors with client copies (n11 / (n11 + n01)), and kept fixed across the bootstrap resamples.
Visitors neither path saw cannot be counted.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.experiments.estimate.resampling import resampled_sums, spread, visitor_groups
from simulator.stats.capture_recapture import Z95

FEATURES = ("visitors", "server_visitors", "silent", "look_silent", "n11", "n01")
"""Per segment: visitors, visitors the server saw, those with no client copy, the unblocked
visitors expected among them, and the unblocked visitors' both / server-only event counts."""


def _first(codes: np.ndarray, order: np.ndarray, start: np.ndarray) -> np.ndarray:
    return codes[order][start]


def _mix(codes: np.ndarray, labels: dict[int, str], segment: np.ndarray, n_seg: int) -> list:
    """Per segment, the share of its visitors in each category (largest first)."""
    k = int(codes.max(initial=0)) + 1
    counts = np.bincount(segment * k + codes, minlength=n_seg * k).reshape(n_seg, k)
    out = []
    for row in counts:
        total = row.sum()
        mix = {labels[c]: float(row[c] / total) for c in np.argsort(-row) if row[c] > 0}
        out.append(mix)
    return out


def site_profile(
    events: dict[str, np.ndarray],
    labels: dict[str, dict[int, str]],
    groups: int,
    seed: int = 0,
    replicates: int = 200,
) -> dict[str, Any]:
    """The site's segments, blocked shares and unblocked client loss, with bootstrap intervals.

    Parameters
    ----------
    events : dict
        One entry per real event: ``client``, ``server``, ``visitor`` and the codes of the
        columns in ``labels`` (``device``, ``browser``, ``country``, ``channel`` when the log
        has them).
    labels : dict
        Column -> code -> category name.
    groups : int
        Visitors are resampled in this many random groups.
    seed : int
        Seed of the bootstrap.
    replicates : int
        Bootstrap resamples.

    Returns
    -------
    dict
        ``visitors`` and ``segments``: per segment its ``device``, ``browser``, ``share`` of the
        visitors, ``countries`` and ``channels`` mixes, ``blocked`` with ``blocked_ci``, and
        the unblocked ``client_loss`` with ``client_loss_ci`` of its device.
    """
    n = events["visitor"].size
    order = np.argsort(events["visitor"], kind="stable")
    v_sorted = events["visitor"][order]
    start = np.flatnonzero(np.r_[True, v_sorted[1:] != v_sorted[:-1]])
    visitor_of = np.empty(n, np.int64)
    visitor_of[order] = np.cumsum(np.r_[True, v_sorted[1:] != v_sorted[:-1]]) - 1
    n_vis = start.size
    seg_cols = [c for c in ("device", "browser") if c in events]
    seg_codes = [_first(events[c], order, start) for c in seg_cols] or [np.zeros(n_vis, int)]
    combined = np.zeros(n_vis, np.int64)
    for c in seg_codes:
        combined = combined * (int(c.max(initial=0)) + 1) + c
    _, seg_first, segment = np.unique(combined, return_index=True, return_inverse=True)
    segment, n_seg = segment.ravel(), seg_first.size

    client = np.bincount(visitor_of, events["client"], n_vis)
    server = np.bincount(visitor_of, events["server"], n_vis)
    both = np.bincount(visitor_of, events["client"] & events["server"], n_vis)
    seen_by_server = server > 0
    silent = seen_by_server & (client == 0)
    talking = seen_by_server & (client > 0)
    n11 = np.bincount(segment, both * talking, n_seg)
    n01 = np.bincount(segment, (server - both) * talking, n_seg)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n11 + n01 > 0, n11 / (n11 + n01), 1.0)
        miss_all = (1.0 - p[segment]) ** server
        look = np.where(talking & (miss_all < 1), miss_all / (1.0 - miss_all), 0.0)
    per_visitor = np.stack(
        [np.ones(n_vis), seen_by_server, silent, look, both * talking, (server - both) * talking]
    )
    k = len(FEATURES)
    feature = (segment[None, :] * k + np.arange(k)[:, None]).ravel()
    group = np.tile(visitor_groups(v_sorted[start], groups), k)
    f = resampled_sums(group, feature, n_seg * k, per_visitor.ravel(), replicates, seed)
    f = f.reshape(-1, n_seg, k)

    # Blocked share per segment; unblocked loss per device (segments of a device pooled).
    with np.errstate(divide="ignore", invalid="ignore"):
        blocked = np.clip((f[..., 2] - f[..., 3]) / f[..., 1], 0.0, 1.0)
    device = seg_codes[0][seg_first] if "device" in events else np.zeros(n_seg, np.int64)
    dev_index = np.unique(device, return_inverse=True)[1].ravel()
    onehot = np.eye(dev_index.max(initial=0) + 1)[dev_index]
    d11, d01 = f[..., 4] @ onehot, f[..., 5] @ onehot
    with np.errstate(divide="ignore", invalid="ignore"):
        dev_loss = (1.0 - d11 / (d11 + d01))[..., dev_index]
    mixes = {
        c: _mix(_first(events[c], order, start), labels[c], segment, n_seg)
        for c in ("country", "channel")
        if c in events
    }
    segments = []
    for s in range(n_seg):
        seg = {
            "device": labels["device"][int(device[s])] if "device" in events else None,
            "browser": (
                labels["browser"][int(seg_codes[-1][seg_first[s]])] if "browser" in events else None
            ),
            "visitors": int(f[0, s, 0]),
            "share": float(f[0, s, 0] / f[0, :, 0].sum()),
            "countries": mixes["country"][s] if "country" in mixes else None,
            "channels": mixes["channel"][s] if "channel" in mixes else None,
        }
        for name, x in (("blocked", blocked[:, s]), ("client_loss", dev_loss[:, s])):
            sd = float(spread(x[1:]))
            seg[name] = _num(x[0])
            seg[f"{name}_ci"] = [_num(max(0.0, x[0] - Z95 * sd)), _num(min(1.0, x[0] + Z95 * sd))]
        segments.append(seg)
    return {"visitors": int(n_vis), "segments": segments}


def _num(x: float) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


__all__ = ["FEATURES", "site_profile"]
