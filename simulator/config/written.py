"""A validated scenario written back as TOML, with every default stated.

``trackloss validate --print FILE`` shows what a run of ``FILE`` will use: the file merged over
what it ``extends``, overridden by ``--set``, and every setting it leaves out filled with its
default. The text is TOML that validates again to the same scenario.
"""

from __future__ import annotations

import tomli_w

from simulator.config.scenario import Scenario


def scenario_toml(scenario: Scenario) -> str:
    """Write ``scenario`` as TOML, every default included.

    Keys that are unset (``None``, such as an event's ``timing`` left to its kind) are left
    out: TOML has no null, and leaving them out means the same.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario.

    Returns
    -------
    str
        TOML text; reading and validating it gives ``scenario`` again.

    Examples
    --------
    >>> from simulator.config.loading import parse_scenario
    >>> seg = {"name": "d", "share": 1.0, "device": "desktop", "browser": "chrome",
    ...        "countries": {"us": 1.0}, "channels": {"direct": 1.0}, "blockers": {"none": 1.0}}
    >>> text = scenario_toml(parse_scenario({"population": {"users": 10, "segments": [seg]}}))
    >>> text.splitlines()[0]
    'name = "scenario"'
    """
    data = scenario.model_dump(mode="python", by_alias=True, exclude_none=True)
    return tomli_w.dumps(data, multiline_strings=True)


__all__ = ["scenario_toml"]
