"""Estimated cost of a model call, from the price table in ``config/llm_prices.yaml``."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from planwright.core.errors import ConfigError


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: float = Field(ge=0, description="US dollars per million input tokens.")
    output: float = Field(ge=0, description="US dollars per million output tokens.")


class PriceTable(BaseModel):
    model_config = ConfigDict(extra="forbid")
    models: dict[str, Price] = {}

    def price(self, model: str) -> Price | None:
        """The entry with the longest name that ``model`` starts with, if any."""
        names = [name for name in self.models if model.startswith(name)]
        return self.models[max(names, key=len)] if names else None

    def cost(self, model: str, input_tokens: int, output_tokens: int) -> float | None:
        price = self.price(model)
        if price is None:
            return None
        return round((input_tokens * price.input + output_tokens * price.output) / 1_000_000, 8)

    @classmethod
    def load(cls, path: Path) -> PriceTable:
        """Read the table; a missing file is an empty table (costs unknown), a bad one a ConfigError."""
        if not path.is_file():
            return cls()
        try:
            return cls.model_validate(yaml.safe_load(path.read_text()) or {})
        except (yaml.YAMLError, ValidationError) as exc:
            raise ConfigError(f"{path}: not a valid price table: {exc}", path=str(path)) from exc
