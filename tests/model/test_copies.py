"""The server copies of dual events: written a row at a time or field by field, the same bytes."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.model import copies
from simulator.model.client.settler import MessageState
from simulator.model.copies import DUAL, PAYLOAD, PAYLOAD_WITH_IDS, Stored, dual_payload


def _messages(rng: np.random.Generator, n: int) -> Stored:
    state = MessageState(
        attempts=rng.integers(0, 4, n), first=np.where(rng.random(n) < 0.3, np.inf, rng.random(n)),
        n=rng.integers(0, 3, n), late=rng.integers(0, 2, n), cause=rng.integers(-1, 9, n),
        seq=rng.random(n) * 100,
    )  # fmt: skip
    return Stored(
        visitor=rng.integers(0, 10**6, n), e=rng.integers(0, 9, n),
        off=rng.integers(0, 1 << 50, n), value=rng.exponential(30.0, n), shared=rng.random(n) < 0.5,
        own=rng.integers(0, 4, n), dual=rng.integers(1, 4, n), ref=rng.integers(-1, 50, n),
        key=rng.integers(0, 10**9, n), state=state,
    )  # fmt: skip


@pytest.mark.skipif(copies.dual_rows is None, reason="the dual rows were not built")
def test_the_compiled_rows_are_the_rows_written_field_by_field(monkeypatch) -> None:
    rng = np.random.default_rng(5)
    msgs = _messages(rng, 5000)
    which = np.sort(rng.choice(msgs.size, 3000, replace=False))
    outcome = rng.integers(-3, 9, msgs.size)
    compiled = dual_payload(msgs, which, outcome, ids=False)
    monkeypatch.setattr(copies, "dual_rows", None)
    on_arrays = dual_payload(msgs, which, outcome, ids=False)
    assert compiled.dtype == on_arrays.dtype == PAYLOAD
    assert compiled.tobytes() == on_arrays.tobytes()  # padding and unwritten fields included


def test_a_dual_copy_carries_its_message_and_its_browser_copy() -> None:
    rng = np.random.default_rng(6)
    msgs = _messages(rng, 50)
    which, outcome = np.array([3, 7, 41]), rng.integers(-3, 9, msgs.size)
    for ids in (False, True):
        rows = dual_payload(msgs, which, outcome, ids)
        assert rows.dtype == (PAYLOAD_WITH_IDS if ids else PAYLOAD)
        st = msgs.state
        assert rows["off"].tolist() == msgs.off[which].tolist()
        assert rows["value"].tolist() == msgs.value[which].tolist()
        assert rows["c_first"].tolist() == st.first[which].tolist()
        assert rows["c_n"].tolist() == st.n[which].tolist()
        assert rows["c_late"].tolist() == st.late[which].tolist()
        assert rows["c_cause"].tolist() == outcome[which].tolist()
        assert rows["ref"].tolist() == msgs.ref[which].tolist()
        assert (rows["kind"] == DUAL).all() and not rows["context"].any()
        if ids:
            assert rows["key"].tolist() == msgs.key[which].tolist()
            assert rows["visitor"].tolist() == msgs.visitor[which].tolist()
