"""Model-based estimates as text: logistic capture rates and the third source's dependence test.

The logistic model's Horvitz-Thompson totals are shown per event type beside the stratified
Chapman figures; with a third source, each pair of paths gets its log odds ratio (0 when they
miss independently), the test's p-value and the true count the model allowing that pair to
depend gives.
"""

from __future__ import annotations

from typing import Any

from simulator.outputs.formatting import count, interval, number, p_value, percent
from simulator.outputs.text_pieces import Piece, TextTable, Title

PAIR_WORDS = {
    "client-server": "client and server",
    "client-third": "client and third source",
    "server-third": "server and third source",
}


ONE_PATH = " (one path only)"
"""Marks an event type one path never saw: nothing to estimate its capture rates from."""


def _range(ci: list) -> str:
    if not ci or ci[0] is None:
        return "-"
    if ci[1] is None:  # too few events seen to bound how many went unseen
        return f"[{count(ci[0], 0)}, unbounded]"
    return f"[{count(ci[0], 0)}, {count(ci[1], 0)}]"


def model_lines(record: dict[str, Any]) -> list[Piece]:
    """The covariate model and the third-source check as text pieces (may be empty).

    Parameters
    ----------
    record : dict
        An estimate record (``covariate_model`` and ``third_source`` are optional).

    Returns
    -------
    list of str, Title or TextTable
        The pieces, each section starting with a blank line and a title.
    """
    lines: list[Piece] = []
    model = record.get("covariate_model")
    if model and model.get("events"):
        lines += ["", Title(f"True events by {model['method']}")]
        lines.append(TextTable(
            ["event", "N (H-T)", "95% CI", "client loss", "95% CI"],
            [[e["event"], count(e["horvitz_thompson"], 0), _range(e["horvitz_thompson_ci"]),
              percent(e["client_loss"]),
              interval(e["client_loss_ci"]) + ("" if e.get("estimable", True) else ONE_PATH)]
             for e in model["events"]],
        ))  # fmt: skip
    third = record.get("third_source")
    if third and third.get("events"):
        lines += [
            "",
            Title(
                "Dependence between paths, from the third source",
                note="log odds ratio of a pair: 0 when they miss independently, above 0 when "
                "they miss the same events",
            ),
        ]
        body = []
        for e in third["events"]:
            for pair, v in e["pairs"].items():
                body.append(
                    [e["event"], PAIR_WORDS[pair], number(v["log_odds_ratio"]),
                     _plain(v["log_odds_ratio_ci"]), p_value(v["p_value"]),
                     count(e["total_independent"], 0), count(v["total"], 0)]
                )  # fmt: skip
        lines.append(TextTable(
            ["event", "pair", "log OR", "95% CI", "p", "N independent", "N with pair"], body
        ))  # fmt: skip
        lines += ["", Title("True events under the model the tests choose")]
        lines.append(TextTable(
            ["event", "dependent pairs", "N", "95% CI"],
            [[e["event"], ", ".join(PAIR_WORDS[p] for p in e["dependent"]) or "none",
              count(e["selected"]["total"], 0), _range(e["selected"]["total_ci"])]
             for e in third["events"]],
        ))  # fmt: skip
        if any(e["selected"]["total"] is None for e in third["events"]):
            lines.append(
                "-: the model leaves the events no path saw unbounded, as a path never sees an "
                "event without another (a pixel that only fires with the client): how much the "
                "two miss together cannot be measured."
            )
        flagged = sorted({PAIR_WORDS[p] for e in third["events"] for p in e["dependent"]})
        lines.append(
            "Paths that miss the same events: " + "; ".join(flagged) + " (the two-source figures "
            "above assume they do not)."
            if flagged
            else "No pair of paths shows dependence: the independence assumption holds here."
        )
    return lines


def _plain(ci: list) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return "-"
    return f"[{number(ci[0])}, {number(ci[1])}]"


__all__ = ["model_lines"]
