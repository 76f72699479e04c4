"""One replay for the plans whose server copies reach an instance identically.

Plans are alternative worlds over the same visitors, and an instance's failures, deploys and
outages are drawn the same in every plan (common random numbers). So when two plans push the
same arrivals to an instance, in the same order, its worker does the same thing in both: the
same ticks, batches, uploads and draws, and each arrival the same fate. Only what the copies
carry differs (a server copy in one plan, a dual event's server copy in another). The usual
case is a comparison of a server plan with a dual one: both send every event from the server.

Such plans share one :class:`~simulator.model.flush_worker.Lane` (its ``members``), whose rows
hold every member's payload side by side (:func:`side_by_side`), and one replay serves them all.
Before each replay the arrivals pushed since the last one are compared member by member
(:func:`split`): a member whose arrivals differ leaves with an exact copy of the lane's state so
far, which is what its own lane would have held, and is replayed on its own from then on. The
outcomes are therefore those of one lane per plan, to the last bit, whatever the plans send.
"""

from __future__ import annotations

import copy

import numpy as np

from simulator.model.flush_worker import Lane


def side_by_side(parts: list[np.ndarray | list[np.ndarray]]) -> np.ndarray:
    """Opaque rows holding member ``j``'s ``i``-th row in column ``j`` of row ``i``.

    Parameters
    ----------
    parts : list
        One entry per member: its opaque rows (``numpy.void``), or a list of arrays of them
        to take one after another. Every member has as many rows, of the same width.

    Returns
    -------
    numpy.ndarray
        Rows ``len(parts)`` times as wide (with one member, its rows).

    Examples
    --------
    >>> a = np.array([1, 2], np.int16).view("V2")
    >>> b = np.array([3, 4], np.int16).view("V2")
    >>> joined([column(side_by_side([a, [b[:1], b[1:]]]), 1, 2)]).view(np.int16).tolist()
    [3, 4]
    """
    chunks = [part if isinstance(part, list) else [part] for part in parts]
    if len(chunks) == 1:
        return chunks[0][0] if len(chunks[0]) == 1 else np.concatenate(chunks[0])
    width = chunks[0][0].dtype.itemsize
    out = np.empty((sum(len(c) for c in chunks[0]), len(chunks)), np.dtype((np.void, width)))
    for j, member in enumerate(chunks):
        at = 0
        for rows in member:  # each chunk straight into place: no copy of the member's rows
            out[at : at + len(rows), j] = rows
            at += len(rows)
    return out.view(np.dtype((np.void, width * len(chunks)))).reshape(-1)


def column(rows: np.ndarray, j: int, members: int) -> np.ndarray:
    """Member ``j``'s rows from rows of ``members`` members side by side (:func:`side_by_side`).

    With more than one member, a strided view (:func:`joined` gathers such views with one
    copy); with one, the rows themselves.
    """
    if members == 1:
        return rows
    width = rows.dtype.itemsize // members
    return rows.view(np.dtype((np.void, width))).reshape(-1, members)[:, j]


def joined(parts: list[np.ndarray]) -> np.ndarray:
    """The rows of ``parts`` one after another, contiguous; ``parts`` as :func:`column` gives.

    Examples
    --------
    >>> rows = side_by_side([np.array([1, 2], np.int16).view("V2"),
    ...                      np.array([3, 4], np.int16).view("V2")])
    >>> joined([column(rows, 1, 2), np.array([5], np.int16).view("V2")]).view(np.int16).tolist()
    [3, 4, 5]
    """
    if len(parts) > 1:
        return np.concatenate(parts)
    return np.ascontiguousarray(parts[0])


def columns(rows: np.ndarray, which: list[int], members: int) -> np.ndarray:
    """The columns ``which`` (in order) of rows of ``members`` members side by side."""
    if len(which) == members:
        return rows
    return side_by_side([joined([column(rows, j, members)]) for j in which])


def split(lane: Lane) -> list[Lane]:
    """Hand each lane a replay's arrivals; members whose arrivals differ leave with a copy.

    ``lane.pushed`` holds each member's pushes since the last replay, as ``(t, rows)`` chunks.
    Members whose arrival times match, in order, the first member's stay; the others form new
    lanes, one per set of matching arrivals, each with the lane's state so far and its
    members' columns of the rows it holds. Every lane returned has its ``chunks`` set: the
    arrival times and the members' rows side by side.

    Parameters
    ----------
    lane : Lane
        A lane with ``members`` and ``pushed``.

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
        before = lane.members
        lanes += [_copy(lane, g, [before.index(p) for p in g]) for g in groups[1:]]
        _keep(lane, groups[0], [before.index(p) for p in groups[0]], len(before))
        lane.pushed = {p: lane.pushed[p] for p in groups[0]}
    for one in lanes:
        pushed = [one.pushed[p] for p in one.members]
        one.pushed = {p: [] for p in one.members}
        if pushed[0]:
            rows = side_by_side([[r for _, r in chunks] for chunks in pushed])
            one.chunks = [(times[one.members[0]], rows)]
    return lanes


def _times(chunks: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    if len(chunks) == 1:
        return chunks[0][0]
    return np.concatenate([np.zeros(0), *(t for t, _ in chunks)])


def _keep(lane: Lane, members: list[int], which: list[int], n: int) -> None:
    """Keep only the columns ``which`` of every row ``lane`` holds: its members are now these."""
    lane.sp = columns(lane.sp, which, n) if len(lane.sp) else lane.sp
    if lane.p is not None:
        lane.p = columns(lane.p, which, n)
    lane.members = members


def _copy(lane: Lane, members: list[int], which: list[int]) -> Lane:
    """A lane for ``members`` leaving ``lane``: its state so far, their columns of its rows."""
    pushed, lane.pushed = lane.pushed, {}
    try:
        new = copy.deepcopy(lane)  # its generator too: it drew what each member's would have
    finally:
        lane.pushed = pushed
    _keep(new, members, which, len(lane.members))
    new.pushed = {p: pushed[p] for p in members}
    return new


__all__ = ["column", "columns", "joined", "side_by_side", "split"]
