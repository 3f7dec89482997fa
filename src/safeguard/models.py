"""The one base of every configuration model: unknown keys are errors, values are frozen."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A pydantic model that rejects unknown keys and cannot be changed once made."""

    model_config = ConfigDict(extra="forbid", frozen=True)
