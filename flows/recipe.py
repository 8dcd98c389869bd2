"""Recipes: a TOML file that chooses the stages and their parameters, validated before any work starts."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails

from filters.dedup.exact import ExactDedupConfig
from filters.dedup.minhash import MinHashConfig
from filters.stages import STAGES
from pipeline.errors import RecipeError
from pipeline.readers import ReadOptions
from pipeline.readers.options import Format, OnError
from pipeline.runner import RunOptions
from pipeline.stage import Stage, StageConfig
from pipeline.writers import OutputFormat

#: the stage types a recipe may name, in the registry's order
STAGE_TYPES = tuple(stage.kind for stage in STAGES)
#: one `[[stages]]` table: the config of the stage its `type` names
StageTable = Annotated[Union[tuple(stage.Config for stage in STAGES)], Field(discriminator="type")]  # noqa: UP007


class ReadSection(BaseModel):
    """`[read]`: how inputs are read."""

    model_config = ConfigDict(extra="forbid")

    text_field: str = Field("text", min_length=1)
    id_field: str | None = Field(None, min_length=1)
    on_error: OnError = "quarantine"
    format: Format = "auto"
    batch_size: int = Field(20_000, ge=1, le=10_000_000)
    batch_bytes: int = Field(64 * 2**20, ge=1024, le=16 * 2**30)


class OutputSection(BaseModel):
    """`[output]`: how kept documents are written."""

    model_config = ConfigDict(extra="forbid")

    format: OutputFormat = "parquet"


def default_stages() -> list[StageConfig]:
    """The cleaning pipeline used without a recipe: cheap stages that stay fast on millions of documents."""
    return [ExactDedupConfig(), MinHashConfig()]


class Recipe(BaseModel):
    """A whole recipe: `[read]`, `[output]` and the ordered `[[stages]]`."""

    model_config = ConfigDict(extra="forbid")

    read: ReadSection = ReadSection()
    output: OutputSection = OutputSection()
    stages: list[StageTable] = Field(default_factory=default_stages)  # type: ignore[valid-type]

    @field_validator("stages", mode="before")
    @classmethod
    def _array(cls, stages: Any) -> Any:
        if not isinstance(stages, list):
            raise ValueError("stages must be an array of tables ([[stages]])")
        return stages

    def build_stages(self) -> list[Stage]:
        """The stage objects, in recipe order."""
        return [config.build() for config in self.stages]

    def run_options(self, **overrides: Any) -> RunOptions:
        """Run options from the recipe, with CLI overrides (None means 'not given')."""
        read = self.read.model_dump()
        not_read = ("output_format", "partitions")
        read.update({k: v for k, v in overrides.items() if v is not None and k not in not_read})
        output_format = overrides.get("output_format") or self.output.format
        return RunOptions(
            read=ReadOptions(**read), output_format=output_format, partitions=overrides.get("partitions")
        )

    def identity(self) -> dict[str, Any]:
        """What of the recipe defines a run's results (stages and their parameters)."""
        return {"stages": [config.model_dump(mode="json") for config in self.stages]}


def parse_recipe(data: dict[str, Any], *, origin: str = "recipe") -> Recipe:
    """Validate a recipe given as a dict; errors name the key and the problem."""
    try:
        return Recipe.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(_problem(item) for item in error.errors())
        raise RecipeError(f"{origin}: {problems}") from None


def _problem(item: ErrorDetails) -> str:
    """One validation error as `where: what`; a stage's errors say which stage, not which union member."""
    loc = list(item["loc"])
    if loc[:1] == ["stages"] and len(loc) > 1 and isinstance(loc[1], int):
        number, kinds = loc[1] + 1, ", ".join(STAGE_TYPES)
        if item["type"] == "union_tag_not_found":
            return f"stage {number} needs a 'type' (one of: {kinds})"
        if item["type"] == "union_tag_invalid":
            return f"stage {number}: unknown type '{item['input'].get('type')}' (one of: {kinds})"  # type: ignore[union-attr]
        if len(loc) > 2 and loc[2] in STAGE_TYPES:
            del loc[2]  # the union member's tag, which the table already named
    return f"{'.'.join(str(part) for part in loc) or '(top level)'}: {item['msg']}"


def preset_recipe(name: str) -> Recipe:
    """One of the recipes that ship with winnow (`flows.presets.PRESETS`)."""
    from flows.presets import PRESETS

    if name not in PRESETS:
        raise RecipeError(f"unknown preset '{name}' (one of: {', '.join(PRESETS)})")
    return parse_recipe(tomllib.loads(PRESETS[name]), origin=f"preset {name}")


def choose_recipe(path: str | Path | None, preset: str | None) -> Recipe:
    """The recipe file when given, else the named preset, else the default recipe (dedup)."""
    if path:
        return load_recipe(path)
    return preset_recipe(preset) if preset else Recipe()


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a TOML recipe."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecipeError(f"{path}: no such recipe file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise RecipeError(f"{path}: not valid TOML ({error})") from None
    return parse_recipe(data, origin=str(path))
