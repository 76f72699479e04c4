"""Dual events whose browser copy is still unsettled when their server copies are sent.

In the engine a ``dual`` event's server copies leave with the browser copy's outcome
attached, so the collector joins the two when the server copy settles. The exception is a
browser copy carried in a visitor's retry store into a later visit: its outcome is not known
yet. Such events (a few per thousand) wait here, keyed by a reference carried by both copies,
until both sides have settled.
"""

from __future__ import annotations

import numpy as np

from simulator.model.outcome_counts import join_dual


class DualWaits:
    """Waiting room for the two sides of a dual event.

    Parameters
    ----------
    data : numpy.ndarray
        The per-plan flat counters of the tally buffer.
    stride : int
        Flat size of one plan's counts.
    dedupe : bool
        Whether the collector dedupes by message id.
    window : float
        Dedupe window in seconds.
    """

    def __init__(self, data: np.ndarray, stride: int, dedupe: bool, window: float) -> None:
        self.data, self.stride, self.dedupe, self.window = data, stride, dedupe, window
        self.opened = 0
        # ref -> [off, value, plans still to settle, browser outcome or None, {plan: server}]
        self._waiting: dict[int, list] = {}

    def __len__(self) -> int:
        """Events still waiting for one of their sides."""
        return len(self._waiting)

    def open(self, off: np.ndarray, value: np.ndarray, plans: np.ndarray) -> np.ndarray:
        """Register events (flat offsets, values, bit masks of dual plans); return their refs."""
        refs = np.arange(self.opened, self.opened + off.size, dtype=np.int64)
        self.opened += off.size
        for ref, o, v, mask in zip(
            refs.tolist(), off.tolist(), value.tolist(), plans.tolist(), strict=True
        ):
            todo = {p for p in range(mask.bit_length()) if mask >> p & 1}
            self._waiting[ref] = [o, v, todo, None, {}]
        return refs

    def client_settled(
        self,
        refs: np.ndarray,
        first: np.ndarray,
        n: np.ndarray,
        late: np.ndarray,
        cause: np.ndarray,
    ) -> None:
        """The browser copies of ``refs`` are settled (first arrival, arrivals, late, cause)."""
        rows = zip(
            refs.tolist(), first.tolist(), n.tolist(), late.tolist(), cause.tolist(), strict=True
        )
        joins = []
        for ref, *client in rows:
            entry = self._waiting[ref]
            entry[3] = client
            for plan, server in list(entry[4].items()):
                joins.append(self._join(ref, entry, plan, server))
        self._count(joins)

    def server_settled(
        self, plan: int, refs: np.ndarray, when: np.ndarray, cause: np.ndarray | int
    ) -> None:
        """The server copies of ``refs`` for ``plan`` settled (``when`` nan if lost)."""
        cause = np.broadcast_to(cause, refs.shape)
        joins = []
        for ref, w, c in zip(refs.tolist(), when.tolist(), cause.tolist(), strict=True):
            entry = self._waiting[ref]
            if entry[3] is None:
                entry[4][plan] = (w, c)
            else:
                joins.append(self._join(ref, entry, plan, (w, c)))
        self._count(joins)

    def _join(self, ref: int, entry: list, plan: int, server: tuple) -> tuple:
        """One plan's two sides of an event, as a row for :meth:`_count`; forget what is done."""
        off, value, todo, client, _ = entry
        todo.discard(plan)
        entry[4].pop(plan, None)
        if not todo:
            del self._waiting[ref]
        return (plan * self.stride + off, value, *client, *server)

    def _count(self, joins: list[tuple]) -> None:
        """Count joined events (rows of :meth:`_join`) in one call, in their order.

        Each counter receives its amounts in the same order as one call per event would give
        it, so the sums are the same to the last bit.
        """
        if not joins:
            return
        off, value, first, n, late, cause, when, server_cause = (
            np.array(c) for c in zip(*joins, strict=True)
        )
        join_dual(self.data, off, value, first, n, late, cause, when, server_cause, self.dedupe,
                  self.window)  # fmt: skip
