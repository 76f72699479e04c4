"""Scenario files as written: the JSON Schema they follow, and a scenario written back as one.

pydantic describes the validated :class:`~simulator.config.scenario.Scenario`. A file may also
name a base in ``extends`` and state only what changes (:mod:`simulator.config.extends`): its
tables are merged key by key over the base's, so no key in them is required, while an array
(such as ``[[plans]]`` or ``[[population.segments]]``) replaces the base's whole, so its items
are complete. :func:`file_schema` says both: a file with ``extends`` is checked against the
"partial" form of every table, and a file without it against the full scenario.

The other way round, :func:`scenario_toml` writes what a run of a file will use (the file
merged over what it ``extends``, overridden by ``--set``, every setting it leaves out filled
with its default) as TOML that validates again to the same scenario
(``trackloss validate --print``).
"""

from __future__ import annotations

import copy
from typing import Any

import tomli_w

from simulator.config import extends
from simulator.config.scenario import Scenario

PARTIAL = "Partial"
"""Prefix of the definitions that describe a table written over a base."""


def file_schema() -> dict[str, Any]:
    """JSON Schema of a scenario file, with or without ``extends``.

    Returns
    -------
    dict
        A JSON Schema (draft 2020-12) document.

    Examples
    --------
    >>> schema = file_schema()
    >>> "extends" in schema["properties"], schema["else"]["required"]
    (True, ['population'])
    >>> "required" in schema["$defs"]["PartialPopulation"]
    False
    """
    full = Scenario.model_json_schema()
    defs: dict[str, Any] = full.pop("$defs", {})
    partial_defs: dict[str, Any] = {}

    def partial(node: Any) -> Any:
        if isinstance(node, list):
            return [partial(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            if name not in partial_defs:
                partial_defs[name] = {}  # a placeholder, so a cycle stops here
                partial_defs[name] = partial(defs[name])
            return {**node, "$ref": f"#/$defs/{PARTIAL}{name}"}
        out = {k: v for k, v in node.items() if k not in ("required", "discriminator")}
        if "properties" in out:
            out["properties"] = {k: partial(v) for k, v in out["properties"].items()}
        if isinstance(out.get("additionalProperties"), dict):
            out["additionalProperties"] = partial(out["additionalProperties"])
        for key in ("anyOf", "allOf"):
            if key in out:
                out[key] = partial(out[key])
        if "oneOf" in out:  # without its kind, a partial table may match more than one
            out["anyOf"] = partial(out.pop("oneOf"))
        return out  # "items" stay complete: an array replaces the base's whole

    written = copy.deepcopy(full)
    written["properties"] = {
        extends.KEY: {
            "type": "string",
            "minLength": 1,
            "title": "Extends",
            "description": "path of a scenario file this one is merged over (relative to this "
            "file); only what changes need be stated",
        },
        **full["properties"],
    }
    over_base = partial({k: v for k, v in written.items() if k != "required"})
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "trackloss scenario file",
        "type": "object",
        "properties": dict.fromkeys(written["properties"], True),  # which keys, not what
        "additionalProperties": False,
        "if": {"required": [extends.KEY]},
        "then": {"properties": over_base["properties"]},
        "else": {"properties": full["properties"], "required": full.get("required", [])},
        "$defs": {**defs, **{f"{PARTIAL}{k}": v for k, v in partial_defs.items()}},
    }
    return schema


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


__all__ = ["file_schema", "scenario_toml"]
