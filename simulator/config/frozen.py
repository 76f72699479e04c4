"""The base of every scenario table: immutable once validated, and unknown keys are errors."""

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    """Base for every scenario table: immutable, and unknown keys are errors.

    Fields may be given by name or by alias (``mean`` for ``mean_``), except where a table says
    otherwise. Types are strict, as a TOML file states them: ``true`` is not a number, ``"400"``
    is not an integer (an integer is a number, though). Numbers must be finite.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        strict=True,
        allow_inf_nan=False,
        # A table's own validator is built when first needed, not when its class is defined:
        # a table used only inside the scenario is validated by the scenario's validator.
        defer_build=True,
    )


__all__ = ["Frozen"]
