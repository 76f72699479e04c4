"""A site's KPIs from its own logs: the raw client figures against the corrected ones.

A log does not say which event is a session or an order, so the user names each KPI as a ratio
of two quantities (``--kpi conversion=order_completed/session_started``), each one of:

- an event type of the log: how many such events;
- ``value:<event>``: the sum of that event type's values (the log's ``value`` column);
- ``visitors``: how many visitors.

The raw client figure counts what the client path received: its events, their values, and
the visitors with at least one client copy. The corrected figure counts, per stratum (event
type x ``--by`` columns), Chapman's estimate of the true events; a stratum's client values are
scaled by the same factor (true events / client events), and the visitors are those seen by
either path (the server sees the visitors a blocker hides from the client; visitors neither
path saw cannot be counted). Intervals come from the bootstrap over visitor groups that the
loss uses, the whole ratio recomputed in each resample.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from simulator.experiments.estimate.resampling import event_counts, resampled_sums, spread
from simulator.experiments.estimate.run_contract import record_number
from simulator.stats.capture_recapture import Z95, two_source

if TYPE_CHECKING:  # pydantic is loaded only when a KPI is parsed
    from simulator.config.kpi_spec import KPI

VISITORS = "visitors"
VALUE = "value:"


class KPIError(ValueError):
    """A KPI that names something the log does not have; the message is one line."""


def parse_kpi(text: str) -> KPI:
    """Read ``NAME=NUMERATOR/DENOMINATOR`` (e.g. ``conversion=order_completed/session_started``).

    Parameters
    ----------
    text : str
        The KPI as given on the command line.

    Returns
    -------
    KPI
        The KPI (its quantities are checked against the log later).

    Raises
    ------
    KPIError
        When the text is not of that form.
    """
    from simulator.config.kpi_spec import KPI

    name, sep, ratio = text.partition("=")
    numerator, slash, denominator = ratio.rpartition("/")
    if not (sep and slash and name.strip() and numerator.strip() and denominator.strip()):
        raise KPIError(f"--kpi: expected NAME=NUMERATOR/DENOMINATOR, got {text!r}")
    try:
        return KPI(name=name.strip(), numerator=numerator.strip(), denominator=denominator.strip())
    except ValueError as error:
        first = str(error).splitlines()
        raise KPIError(f"--kpi {text!r}: {first[-1].strip() if first else error}") from None


def check_kpis(kpis: list[KPI], events: list[str], has_value: bool) -> None:
    """Raise :class:`KPIError` unless every quantity names an event type of the log.

    Parameters
    ----------
    kpis : list of KPI
        The KPIs asked for.
    events : list of str
        The log's event types.
    has_value : bool
        Whether the log has a ``value`` column.
    """
    seen = set()
    for kpi in kpis:
        if kpi.name in seen:
            raise KPIError(f"--kpi: two KPIs are named {kpi.name!r}")
        seen.add(kpi.name)
        for q in (kpi.numerator, kpi.denominator):
            event = q[len(VALUE) :] if q.startswith(VALUE) else q
            if q.startswith(VALUE) and not has_value:
                raise KPIError(f"--kpi {kpi.name}: {q!r} needs a value column, the log has none")
            if q != VISITORS and event not in events:
                raise KPIError(
                    f"--kpi {kpi.name}: no event type {event!r} in the log (expected one of "
                    f"{', '.join(sorted(events))}, value:<event> or {VISITORS})"
                )


def kpi_estimates(
    kpis: list[KPI],
    events: dict[str, np.ndarray],
    labels: dict[str, dict[int, str]],
    by: tuple[str, ...],
    profile: dict[str, Any],
    seed: int = 0,
    replicates: int = 200,
) -> list[dict[str, Any]]:
    """Raw client and corrected KPIs with bootstrap intervals over visitor groups.

    Parameters
    ----------
    kpis : list of KPI
        The KPIs (checked with :func:`check_kpis`).
    events : dict
        Entries of client or server events per visitor group and cell with their ``count``
        (see :mod:`~simulator.experiments.estimate.segment_counts`): ``group``, ``client``,
        ``server``, codes of ``event`` and ``by``, and ``value`` when the log has one.
    labels : dict
        Column -> code -> category.
    by : tuple of str
        The strata columns besides the event type.
    profile : dict
        The site profile's sums per visitor group (``group``, ``features``: visitors first,
        visitors without a client copy third).
    seed, replicates : int
        The bootstrap's seed and resamples.

    Returns
    -------
    list of dict
        Per KPI, in the run record's KPI form: ``plan`` (``"estimate"``), ``name``,
        ``numerator``, ``denominator``, ``truth`` (the corrected figure) with ``truth_ci``,
        ``observed`` (the raw client figure) with ``observed_ci``, ``relative_bias``
        (observed / corrected - 1) with ``relative_bias_ci``, and ``note``.
    """
    if not kpis:
        return []
    combined = np.zeros(events["event"].size, np.int64)
    for name in ("event", *by):
        combined = combined * (int(events[name].max(initial=0)) + 1) + events[name]
    strata, first, stratum = np.unique(combined, return_index=True, return_inverse=True)
    stratum, n_strata = stratum.ravel(), strata.size
    event_of = events["event"][first]
    count = event_counts(events)
    kind = np.where(events["client"] & events["server"], 0, np.where(events["client"], 1, 2))
    value = events.get("value", np.zeros(count.size))
    client = np.flatnonzero(events["client"])
    n_visit = profile["group"].size
    group = np.concatenate([events["group"], events["group"][client], *[profile["group"]] * 2])
    feature = np.concatenate([
        stratum * 3 + kind,
        3 * n_strata + stratum[client],
        np.full(n_visit, 4 * n_strata),
        np.full(n_visit, 4 * n_strata + 1),
    ])  # fmt: skip
    features = np.asarray(profile["features"], float).reshape(n_visit, -1)
    weights = np.concatenate([count, value[client], features[:, 0], features[:, 2]])
    f = resampled_sums(group, feature, 4 * n_strata + 2, weights, replicates, seed)
    cells = f[:, : 3 * n_strata].reshape(-1, n_strata, 3)
    est = two_source(cells[..., 0], cells[..., 1], cells[..., 2])
    seen = cells[..., 0] + cells[..., 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(seen > 0, est.chapman / seen, 0.0)
    stratum_value = f[:, 3 * n_strata : 4 * n_strata]
    to_event = np.eye(len(labels["event"]))[event_of]
    amounts = {
        "raw": {"count": seen @ to_event, "value": stratum_value @ to_event},
        "corrected": {
            "count": np.nan_to_num(est.chapman) @ to_event,
            "value": (stratum_value * scale) @ to_event,
        },
    }
    visitors = f[:, 4 * n_strata]
    amounts["raw"][VISITORS] = visitors - f[:, 4 * n_strata + 1]
    amounts["corrected"][VISITORS] = visitors
    code = {v: c for c, v in labels["event"].items()}
    rows = []
    for kpi in kpis:
        ratio = {}
        for side, a in amounts.items():
            num, den = (_amount(a, q, code) for q in (kpi.numerator, kpi.denominator))
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio[side] = np.where(den > 0, num / den, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            bias = ratio["raw"] / ratio["corrected"] - 1.0
        row = {"plan": "estimate", "name": kpi.name, "numerator": kpi.numerator,
               "denominator": kpi.denominator}  # fmt: skip
        for key, x in (("truth", ratio["corrected"]), ("observed", ratio["raw"]),
                       ("relative_bias", bias)):  # fmt: skip
            sd = float(spread(x[1:]))
            row[key] = record_number(x[0])
            row[f"{key}_ci"] = [record_number(x[0] - Z95 * sd), record_number(x[0] + Z95 * sd)]
            row[f"{key}_sd"] = record_number(sd)
        row["note"] = (
            "truth is estimated from the log (Chapman per stratum); visitors neither path saw "
            "are not counted"
            if VISITORS in (kpi.numerator, kpi.denominator)
            else "truth is estimated from the log (Chapman per stratum)"
        )
        rows.append(row)
    return rows


def _amount(amounts: dict[str, np.ndarray], quantity: str, code: dict[str, int]) -> np.ndarray:
    """One quantity per resample: visitors, an event type's count or its summed value."""
    if quantity == VISITORS:
        return amounts[VISITORS]
    if quantity.startswith(VALUE):
        return amounts["value"][:, code[quantity[len(VALUE) :]]]
    return amounts["count"][:, code[quantity]]


__all__ = ["KPIError", "VISITORS", "check_kpis", "kpi_estimates", "parse_kpi"]
