"""``trackloss estimate`` against the simulator's truth.

A simulated dual-tracking site is exported with its truth, then estimated as if its copies were
a real site's logs. When the two paths miss events independently within segments (client
blockers and failures; server upload failures without retries) the estimates recover the true
loss and the 95% intervals cover it in about 95% of runs. Shared collector outages break that
independence: the loss is underestimated and the report flags the outages.
"""

from __future__ import annotations

import numpy as np
import pytest

pq = pytest.importorskip("pyarrow.parquet")

from support.factories import segment, two_path_site  # noqa: E402

from simulator.config.scenario import Scenario  # noqa: E402
from simulator.experiments.estimate.estimation import estimate  # noqa: E402
from simulator.experiments.event_export import export_events  # noqa: E402
from simulator.outputs.estimate_report import format_estimate  # noqa: E402

MIN_TRUE = 100
"""Event types with fewer true events in a run are left out (intervals need some events)."""


def site(seed: int, users: int = 1000, outages: float = 0.0, bots: float = 0.0) -> Scenario:
    return two_path_site([
        segment("desk", "desktop", "chrome", {"none": 0.7, "extension_default": 0.3}),
        segment("mob", "mobile", "safari", {"none": 0.9, "dns": 0.1}),
    ], users, seed, collector={"outages_per_day": outages},
       population={"bots": {"share": bots, "filtered": 0.0}})  # fmt: skip


def one_run(folder, seed: int, outages: float = 0.0, bots: float = 0.0) -> tuple[list[dict], dict]:
    """Per event type: the estimate, its interval and the true client loss of the run."""
    export_events(site(seed, outages=outages, bots=bots), folder)
    record = estimate(folder / "copies.parquet", by=("device",), seed=seed)
    truth = pq.read_table(folder / "truth.parquet").to_pandas()
    copies = pq.read_table(folder / "copies.parquet").to_pandas()
    truth["client"] = truth.event_key.isin(copies.event_key[copies.path == "client"])
    per = truth.groupby("event", observed=True).client.agg(["size", "sum"])
    rows = [
        {**e, "true": int(per.loc[e["event"], "size"]), "seen": int(per.loc[e["event"], "sum"])}
        for e in record["events"]
        if e["client_loss"] is not None and per.loc[e["event"], "size"] >= MIN_TRUE
    ]
    record["true_counts"] = per["size"].to_dict()
    return rows, record


def coverage_runs(
    tmp_path, runs: int, first_seed: int
) -> tuple[np.ndarray, list[list[dict]], np.ndarray]:
    """Per run, the share of event types whose interval covers the site's loss rate.

    The loss rate of the simulated site is the pooled truth of all runs (its error is
    ``1 / sqrt(runs)`` of a single run's, small against an interval's width). Beside it, per
    run, the share of event types whose Horvitz-Thompson interval covers the run's own true
    count (the events its visitors made), and the mean of their squared errors in standard
    errors (about 1 when the standard error is that of the error); and the same coverage for
    the rare event types (fewer than :data:`MIN_TRUE` events, a handful of them unseen), NaN in
    a run without any.
    """
    done = [one_run(tmp_path / f"r{r}", first_seed + r) for r in range(runs)]
    results = [rows for rows, _ in done]
    pooled = {}
    for rows in results:
        for row in rows:
            t, s = pooled.get(row["event"], (0, 0))
            pooled[row["event"]] = (t + row["true"], s + row["seen"])
    rate = {e: 1 - s / t for e, (t, s) in pooled.items()}
    per_run = np.array([
        np.mean([r["client_loss_ci"][0] <= rate[r["event"]] <= r["client_loss_ci"][1]
                 for r in rows])
        for rows in results
    ])  # fmt: skip
    counts, squared, rare = [], [], []
    for _, record in done:
        true = record["true_counts"]
        model = [m for m in record["covariate_model"]["events"] if m["estimable"]]
        covered = {}
        for m in model:
            lo, hi = m["horvitz_thompson_ci"]  # an upper end of None is unbounded
            covered[m["event"]] = lo <= true[m["event"]] and (hi is None or true[m["event"]] <= hi)
        common = [m for m in model if true[m["event"]] >= MIN_TRUE]
        counts.append(np.mean([covered[m["event"]] for m in common]))
        few = [covered[m["event"]] for m in model if true[m["event"]] < MIN_TRUE]
        rare.append(np.mean(few) if few else np.nan)
        squared.append(
            np.mean([((m["horvitz_thompson"] - true[m["event"]]) / m["horvitz_thompson_sd"]) ** 2
                     for m in common])
        )  # fmt: skip
    return per_run, results, np.array([counts, squared, rare])


def near_95(per_run: np.ndarray, k: float) -> bool:
    """Whether runs' coverages average 95%, within three standard errors.

    Event types of one run share their visitors, so runs are the independent unit; the
    tolerance is the larger of the binomial and the observed standard error.
    """
    runs = len(per_run)
    se = max(np.sqrt(0.95 * 0.05 / (runs * k)), per_run.std(ddof=1) / np.sqrt(runs))
    return abs(per_run.mean() - 0.95) < 3 * se + 1 / (runs * k)


def at_least_95(per_run: np.ndarray) -> bool:
    """Whether runs' coverages hold 95% at least, within three standard errors (as near_95).

    A rare event type's count often has none unseen: its interval keeps a few possible above
    it, so it covers more often than 95%, as an exact binomial interval does.
    """
    per_run = per_run[np.isfinite(per_run)]
    runs = len(per_run)
    se = max(np.sqrt(0.95 * 0.05 / runs), per_run.std(ddof=1) / np.sqrt(runs))
    return per_run.mean() > 0.95 - 3 * se


def test_estimates_recover_the_truth_and_intervals_cover(tmp_path):
    runs = 12
    per_run, results, counts = coverage_runs(tmp_path, runs, 100)
    # Recovery: each estimate is within four standard errors (from its bootstrap interval)
    # of the run's own true loss.
    for rows in results:
        for r in rows:
            lo, hi = r["client_loss_ci"]
            sd = max((hi - lo) / (2 * 1.96), 1e-9)
            assert abs(r["client_loss"] - (1 - r["seen"] / r["true"])) < 4 * sd, r
    k = np.mean([len(rows) for rows in results])
    assert near_95(per_run, k), per_run
    # The true count's interval covers the events that happened as often, and is no wider
    # than that needs: the spread of how many events the visitors made is not its error.
    counts, squared, rare = counts
    assert near_95(counts, k), counts
    assert at_least_95(rare), rare
    assert abs(squared.mean() - 1) < 3 * squared.std(ddof=1) / np.sqrt(runs), squared


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_intervals_cover_in_93_to_97_percent_of_runs(tmp_path):
    per_run, _, (counts, _, rare) = coverage_runs(tmp_path, 200, 1000)
    assert 0.93 <= per_run.mean() <= 0.97, per_run.mean()
    assert 0.93 <= counts.mean() <= 0.97, counts.mean()
    assert at_least_95(rare), np.nanmean(rare)


def test_shared_collector_outages_bias_the_loss_down_and_are_flagged(tmp_path):
    broken, record = one_run(tmp_path / "outages", 7, outages=30.0)
    page = next(r for r in broken if r["event"] == "page_viewed")
    true_loss = 1 - page["seen"] / page["true"]
    # Both paths miss the events sent during an outage: the estimate is too low, beyond its
    # interval, and the report says why.
    assert page["client_loss_ci"][1] < true_loss
    assert record["collector_gaps"]["stretches"] > 0
    _, clean = one_run(tmp_path / "clean", 7)
    assert clean["collector_gaps"]["stretches"] == 0


def test_unfiltered_bots_bias_the_loss_up_and_the_report_brackets_it(tmp_path):
    broken, record = one_run(tmp_path / "bots", 7, bots=0.2)
    page = next(r for r in broken if r["event"] == "page_viewed")
    true_loss = 1 - page["seen"] / page["true"]
    # Bots reach the server only, so each page they view counts as one the client missed: the
    # estimate is too high, beyond its interval.
    assert page["client_loss_ci"][0] > true_loss
    # The log cannot tell them from visitors whose blocker silences the browser, so the report
    # also gives the loss without every visitor seen by the server only: too low, since the
    # blocked visitors go too. The two figures bracket the truth.
    without = next(e for e in record["sensitivity"] if e["event"] == "page_viewed")
    assert without["client_loss_ci"][1] < true_loss
    _, clean = one_run(tmp_path / "clean", 7)
    assert record["bots"]["server_only_visitors"] > 2 * clean["bots"]["server_only_visitors"]
    # Their events tell them apart in the aggregate: bots read pages but do not click or buy,
    # so per visitor the silent ones send far fewer of those than the talking ones, and the
    # smallest such ratio bounds the share of people among them.
    mix = record["bots"]["silent_mix"]
    assert mix["mix_differs"]
    people = _people_among_silent(tmp_path / "bots")
    lo, hi = next(e["ratio_ci"] for e in mix["events"] if e["event"] == mix["from_event"])
    sd = np.log(hi / lo) / (2 * 1.959963984540054)
    assert abs(np.log(mix["people_at_most"] / people)) < 3 * sd, (mix, people)
    text = format_estimate(record)
    assert "are people acting like the others; the rest are bots, or people whose" in text
    # Counting no more people among them than the bound allows, the loss is at most the
    # upper end of its interval: above the truth, and far below the loss with every one of them
    # counted as a person.
    at_most = next(e for e in mix["loss_at_most"] if e["event"] == "page_viewed")
    assert true_loss <= at_most["client_loss_ci"][1] < page["client_loss_ci"][0], at_most
    assert "Counting no more people among them than that, the client loss of " in text
    # Where the silent visitors are all people who block, nothing sets them apart.
    assert not clean["bots"]["silent_mix"]["mix_differs"]
    assert clean["bots"]["silent_mix"]["people_at_most_ci"][1] == 1.0
    assert _people_among_silent(tmp_path / "clean") == 1.0


def _people_among_silent(folder) -> float:
    """The share of people (not bots) among the visitors with server copies only."""
    truth = pq.read_table(folder / "truth.parquet").to_pandas()
    copies = pq.read_table(folder / "copies.parquet").to_pandas()
    talking = set(copies.visitor[copies.path == "client"])
    silent = set(copies.visitor[copies.path == "server"]) - talking
    return len(silent & set(truth.visitor)) / len(silent)
