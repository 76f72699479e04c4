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
Visitors neither path saw cannot be counted. The sums per visitor come from DuckDB
(:mod:`~simulator.experiments.estimate.segment_counts`); here they are only resampled.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.experiments.estimate.resampling import resampled_sums, spread
from simulator.experiments.estimate.run_contract import record_number
from simulator.experiments.estimate.segment_counts import FEATURES
from simulator.stats.capture_recapture import Z95


def _mix(counts: dict[str, int]) -> dict[str, float]:
    """Shares of a segment's visitors per category, largest first (ties in sorted order)."""
    total = sum(counts.values())
    ordered = sorted(counts, key=lambda c: -counts[c])  # stable: sorted labels break ties
    return {c: counts[c] / total for c in ordered if counts[c] > 0}


def site_profile(
    profile: dict[str, Any],
    seed: int = 0,
    replicates: int = 200,
) -> dict[str, Any]:
    """The site's segments, blocked shares and unblocked client loss, with bootstrap intervals.

    Parameters
    ----------
    profile : dict
        Sums per visitor group and segment, as
        :func:`~simulator.experiments.estimate.segment_counts.segment_counts` gives them:
        ``segments`` (device and browser of each, ``None`` for a column the log lacks),
        ``group``, ``segment``, ``features`` (entries x
        :data:`~simulator.experiments.estimate.segment_counts.FEATURES`), ``mixes`` and
        ``visitors``.
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
    segments = profile["segments"]
    n_seg, k = len(segments), len(FEATURES)
    if not n_seg:
        return {"visitors": int(profile["visitors"]), "segments": []}
    group = np.repeat(profile["group"], k)
    feature = (profile["segment"][:, None] * k + np.arange(k)[None, :]).ravel()
    values = np.asarray(profile["features"], float).ravel()
    f = resampled_sums(group, feature, n_seg * k, values, replicates, seed)
    f = f.reshape(-1, n_seg, k)

    # Blocked share per segment; unblocked loss per device (segments of a device pooled).
    with np.errstate(divide="ignore", invalid="ignore"):
        blocked = np.clip((f[..., 2] - f[..., 3]) / f[..., 1], 0.0, 1.0)
    devices = sorted({str(s[0]) for s in segments})
    dev_index = np.array([devices.index(str(s[0])) for s in segments], np.int64)
    onehot = np.eye(len(devices))[dev_index]
    d11, d01 = f[..., 4] @ onehot, f[..., 5] @ onehot
    with np.errstate(divide="ignore", invalid="ignore"):
        dev_loss = (1.0 - d11 / (d11 + d01))[..., dev_index]
    mixes = {c: [_mix(m) for m in rows] for c, rows in profile["mixes"].items()}
    out = []
    for s, (device, browser) in enumerate(segments):
        seg = {
            "device": device,
            "browser": browser,
            "visitors": int(f[0, s, 0]),
            "share": float(f[0, s, 0] / f[0, :, 0].sum()),
            "countries": mixes["country"][s] if "country" in mixes else None,
            "channels": mixes["channel"][s] if "channel" in mixes else None,
        }
        for name, x in (("blocked", blocked[:, s]), ("client_loss", dev_loss[:, s])):
            sd = float(spread(x[1:]))
            seg[name] = record_number(x[0])
            seg[f"{name}_ci"] = [
                record_number(max(0.0, x[0] - Z95 * sd)),
                record_number(min(1.0, x[0] + Z95 * sd)),
            ]
        out.append(seg)
    return {"visitors": int(profile["visitors"]), "segments": out}


__all__ = ["site_profile"]
