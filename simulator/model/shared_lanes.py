"""One replay for the plans whose server copies reach an instance identically.

Plans are alternative worlds over the same visitors, and an instance's failures, deploys and
outages are drawn the same in every plan (common random numbers). So when two plans push the
same arrivals to an instance, in the same order, its worker does the same thing in both: the
same ticks, batches, uploads and draws, and each arrival the same fate. Only what the copies
carry differs (a server copy in one plan, a dual event's server copy in another). The usual
case is a comparison of a server plan with a dual one: both send every event from the server.

Such plans share one :class:`~simulator.model.flush_worker.Lane` (its ``members``). What the
copies carry stays out of the replay: each member keeps its payload rows in a pool of its own
(``Lane.pool``), and the lane's queue, batch and store hold row numbers, which are the same in
every member's pool, so the replay sorts and moves 8 bytes an arrival instead of every
member's payload (:func:`payload_rows` looks the rows up for the outcomes). Before each replay
the arrivals pushed since the last one are compared member by member (:func:`split`): a member
whose arrivals differ leaves with an exact copy of the lane's state so far, which is what its
own lane would have held, and is replayed on its own from then on. The outcomes are therefore
those of one lane per plan, to the last bit, whatever the plans send.
"""

from __future__ import annotations

import copy

import numpy as np

from simulator.model.copies import take_into
from simulator.model.flush_worker import Lane


def split(lane: Lane) -> list[Lane]:
    """Hand each lane a replay's arrivals; members whose arrivals differ leave with a copy.

    ``lane.pushed`` holds each member's pushes since the last replay, as ``(t, rows, sel)``
    chunks (the arrivals at ``t`` carry ``rows[sel]``, or all ``rows`` when ``sel`` is None).
    Members whose arrival times match, in order, the first member's stay; the others form new
    lanes, one per set of matching arrivals, each with the lane's state so far and its
    members' pools. Every lane returned has the new arrivals in ``chunks`` (times and row
    numbers) and their payloads in its members' pools (:func:`_refill`).

    Parameters
    ----------
    lane : Lane
        A lane with ``members``, ``pushed`` and ``pool``.

    Returns
    -------
    list of Lane
        ``lane`` first, then the new lanes.
    """
    times = {p: _times(lane.pushed[p]) for p in lane.members}
    groups: list[list[int]] = []
    for p in lane.members:
        same = next((g for g in groups if np.array_equal(times[g[0]], times[p])), None)
        if same is None:
            groups.append([p])
        else:
            same.append(p)
    lanes = [lane]
    if len(groups) > 1:
        lanes += [_copy(lane, g) for g in groups[1:]]
        _keep(lane, groups[0])
    for one in lanes:
        if one.pushed[one.members[0]]:
            _refill(one, times[one.members[0]])
    return lanes


def payload_rows(parts: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """The payload rows of ``parts``, ``(pool, row numbers)`` each, one after another.

    Examples
    --------
    >>> a, b = (np.array(x, np.int16).view("V2") for x in ([10, 11, 12], [20, 21]))
    >>> payload_rows([(a, np.array([2, 0])), (b, np.array([1]))]).view(np.int16).tolist()
    [12, 10, 21]
    """
    if len(parts) == 1:
        pool, rows = parts[0]
        return pool[rows]
    out = np.empty(sum(len(rows) for _, rows in parts), parts[0][0].dtype)
    at = 0
    for pool, rows in parts:  # each lane's rows straight into place
        take_into(pool, rows, out[at : at + len(rows)])
        at += len(rows)
    return out


def _times(chunks: list[tuple[np.ndarray, ...]]) -> np.ndarray:
    if len(chunks) == 1:
        return chunks[0][0]
    return np.concatenate([np.zeros(0), *(c[0] for c in chunks)])


def _refill(lane: Lane, t: np.ndarray) -> None:
    """Pool the members' new rows with those the lane still holds; number them afresh.

    The lane holds row numbers in its store (``sp`` from ``s0``) and, when ``pos``, its batch
    and queue (``p``); every other row was reported. Each member's pool becomes those rows, in
    that order, then the new ones (each pushed chunk's rows ``rows[sel]``, or all of them),
    taken straight into place, so a pool never holds more than the lane does.
    """
    held = [lane.sp[lane.s0 :]] + ([lane.p] if lane.pos else [])
    rows = np.concatenate(held) if len(held) > 1 else held[0]
    n_held, n_new = len(rows), len(t)
    for p in lane.members:
        chunks, old = lane.pushed[p], lane.pool.get(p)
        if len(chunks) == 1 and chunks[0][2] is None and not n_held:
            lane.pool[p] = chunks[0][1]
        else:
            pool = np.empty(n_held + n_new, chunks[0][1].dtype)
            if n_held:
                take_into(old, rows, pool[:n_held])
            at = n_held
            for _, new, sel in chunks:
                part = pool[at : at + len(new if sel is None else sel)]
                if sel is None:
                    part[...] = new
                else:
                    take_into(new, sel, part)
                at += len(part)
            lane.pool[p] = pool
        lane.pushed[p] = []
    stored = len(lane.sp) - lane.s0
    lane.st, lane.sk, lane.sp = lane.st[lane.s0 :], lane.sk[lane.s0 :], np.arange(stored)
    lane.s0 = 0
    if lane.pos:
        lane.p = np.arange(stored, n_held)
    lane.chunks = [(t, np.arange(n_held, n_held + n_new))]


def _keep(lane: Lane, members: list[int]) -> None:
    """Narrow ``lane`` to ``members`` (their pushes and pools)."""
    lane.pushed = {p: lane.pushed[p] for p in members}
    lane.pool = {p: lane.pool[p] for p in members if p in lane.pool}
    lane.members = members


def _copy(lane: Lane, members: list[int]) -> Lane:
    """A lane for ``members`` leaving ``lane``: its state so far, their pushes and pools."""
    pushed, pool = lane.pushed, lane.pool
    lane.pushed, lane.pool = {}, {}
    try:
        new = copy.deepcopy(lane)  # its generator too: it drew what each member's would have
    finally:
        lane.pushed, lane.pool = pushed, pool
    new.pushed, new.pool = pushed, pool
    _keep(new, members)
    return new


__all__ = ["payload_rows", "split"]
