"""The compiled counting loop adds what the passes on arrays add, to the last bit.

:func:`~simulator.model.outcome_counts.count_measures` counts into the run's counters in the
compiled loop where it was built, and on arrays where it was not; a seed must give the same
numbers either way. The amounts here are floats of many magnitudes, which sum to other bits in
another order, and land many to a counter, so that any change of order shows.
"""

from __future__ import annotations

import numpy as np
import pytest
from support.factories import scenario
from support.scenarios import EVERYTHING_ON

from simulator.model import outcome_counts
from simulator.model.collector import CONTEXT, DELIVERED, TRUTH, VALUE_SQ_TRUTH, VALUE_TRUTH
from simulator.model.population import layout_of
from simulator.model.tally_buffer import POSITION, TallyBuffer

built = pytest.mark.skipif(outcome_counts.counting_loop is None, reason="the loop was not built")


def _buffer() -> TallyBuffer:
    return TallyBuffer(layout_of(scenario(**{**EVERYTHING_ON, "users": 600})))


def _selections(rng: np.random.Generator, n: int) -> list:
    """Every shape a caller hands over: all events or a mask; amounts one for all or per event."""
    priced = rng.random(n) < 0.4
    value = np.exp(rng.normal(0.0, 4.0, priced.sum()))  # 1e-7 to 1e7: order moves the bits
    context = rng.random(n) < 0.7
    return [
        (None, [(DELIVERED, 1.0), (TRUTH, 0.1)]),
        (context, [(CONTEXT, 1.0)]),
        (priced, [(VALUE_TRUTH, value), (VALUE_SQ_TRUTH, value**2)]),  # kept by group, and not
        (np.zeros(n, bool), [(CONTEXT, 1.0)]),  # selects nothing
    ]


def _counted(buffer: TallyBuffer, calls: list, compiled: bool, monkeypatch) -> np.ndarray:
    with monkeypatch.context() as mp:
        if not compiled:
            mp.setattr(outcome_counts, "counting_loop", None)
        for base, selections in calls:
            outcome_counts.count_measures(buffer.data, base, selections)
    return np.concatenate([np.asarray(buffer.data), buffer.data.grouped])


def _calls(buffer: TallyBuffer, rng: np.random.Generator) -> list:
    """Calls over a few cells of each plan, for visitors spread over the groups."""
    calls = []
    for n in (1, 7, 2000, 5000):
        event = rng.integers(0, buffer.n_events, n)
        cell = rng.integers(0, 3, n)  # few cells: many amounts to each counter
        off = buffer.offset(event, cell, rng.integers(0, 10**6, n))
        calls.append((rng.integers(0, 3, n) * buffer.plan_stride + off, _selections(rng, n)))
    return calls


@built
def test_the_loop_adds_what_the_passes_on_arrays_add_to_the_last_bit(monkeypatch):
    rng = np.random.default_rng(7)
    loop, arrays = _buffer(), _buffer()
    calls = _calls(loop, rng)
    by_loop = _counted(loop, calls, True, monkeypatch)
    on_arrays = _counted(arrays, calls, False, monkeypatch)
    assert by_loop.tobytes() == on_arrays.tobytes()
    assert np.count_nonzero(loop.data.grouped) > 100  # the group totals were written too

    # The check has teeth: the same amounts added in the opposite order give other bits.
    def backwards(selections: list) -> list:
        return [(None if w is None else w[::-1], [(m, a[::-1] if np.ndim(a) else a) for m, a in ms])
                for w, ms in selections]  # fmt: skip

    reverse = [(base[::-1], backwards(selections)) for base, selections in calls]
    assert _counted(_buffer(), reverse, False, monkeypatch).tobytes() != on_arrays.tobytes()


@built
def test_the_loop_counts_every_amount_where_the_offsets_say(monkeypatch):
    """Closed form: one event counted alone lands at its offset's position plus the measure."""
    buffer = _buffer()
    base = buffer.offset(np.array([2]), np.array([1]), np.array([12345])) + buffer.plan_stride
    outcome_counts.count_measures(buffer.data, base, [(None, [(DELIVERED, 1.0), (CONTEXT, 2.5)])])
    flat = np.asarray(buffer.data)
    position = int(base[0] & POSITION)
    assert flat[position + DELIVERED] == 1.0 and flat[position + CONTEXT] == 2.5
    assert flat.sum() == 3.5
    assert buffer.data.grouped.sum() == 2 * 3.5  # once in each joint block of the group


@built
def test_an_offset_outside_the_counters_is_an_error_not_a_write_elsewhere():
    buffer = _buffer()
    outside = np.array([0, np.asarray(buffer.data).size], dtype=np.int64)
    with pytest.raises(IndexError, match="is outside the counters"):
        outcome_counts.count_measures(buffer.data, outside, [(None, [(DELIVERED, 1.0)])])
    with pytest.raises(ValueError, match="2 amounts for 1 events"):
        outcome_counts.count_measures(
            buffer.data, outside[:1], [(None, [(VALUE_TRUTH, np.ones(2))])]
        )
