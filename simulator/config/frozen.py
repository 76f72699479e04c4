"""The base of every scenario table: immutable once validated, and unknown keys are errors."""

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    """Base for every scenario table: immutable, and unknown keys are errors.

    Fields may be given by name or by alias (``mean`` for ``mean_``), except where a table says
    otherwise.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


__all__ = ["Frozen"]
