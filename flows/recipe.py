"""Recipes: a TOML file that chooses the stages and their parameters, validated before any work starts."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from filters.dedup.exact import ExactDedupConfig
from filters.dedup.minhash import MinHashConfig
from filters.quality.c4 import C4BadWordsConfig, C4QualityConfig
from filters.quality.classifier_stage import QualityClassifierConfig
from filters.quality.fineweb import FineWebQualityConfig
from filters.quality.gopher_quality import GopherQualityConfig
from filters.quality.gopher_repetition import GopherRepetitionConfig
from filters.quality.language import LanguageConfig
from filters.quality.perplexity import PerplexityConfig
from filters.quality.pii import PiiConfig
from filters.select.selection import SelectConfig
from filters.select.semdedup import SemDedupConfig
from pipeline.errors import RecipeError
from pipeline.readers import ReadOptions
from pipeline.readers.options import Format, OnError
from pipeline.runner import RunOptions
from pipeline.stage import Stage
from pipeline.writers import OutputFormat

#: stage type -> its typed config; each config's `build()` makes the stage
STAGE_CONFIGS: dict[str, type[BaseModel]] = {
    "exact_dedup": ExactDedupConfig,
    "minhash_dedup": MinHashConfig,
    "language": LanguageConfig,
    "gopher_quality": GopherQualityConfig,
    "gopher_repetition": GopherRepetitionConfig,
    "c4_quality": C4QualityConfig,
    "c4_badwords": C4BadWordsConfig,
    "fineweb_quality": FineWebQualityConfig,
    "perplexity": PerplexityConfig,
    "quality_classifier": QualityClassifierConfig,
    "semantic_dedup": SemDedupConfig,
    "select": SelectConfig,
    "pii": PiiConfig,
}


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


def default_stages() -> list[Any]:
    """The cleaning pipeline used without a recipe: cheap stages that stay fast on millions of documents."""
    return [ExactDedupConfig(), MinHashConfig()]


class Recipe(BaseModel):
    """A whole recipe: `[read]`, `[output]` and the ordered `[[stages]]`."""

    model_config = ConfigDict(extra="forbid")

    read: ReadSection = ReadSection()
    output: OutputSection = OutputSection()
    stages: list[Any] = Field(default_factory=default_stages)

    @field_validator("stages", mode="before")
    @classmethod
    def _typed_stages(cls, stages: Any) -> list[BaseModel]:
        if not isinstance(stages, list):
            raise ValueError("stages must be an array of tables ([[stages]])")
        typed = []
        for position, stage in enumerate(stages):
            if isinstance(stage, BaseModel):
                typed.append(stage)
                continue
            if not isinstance(stage, dict) or "type" not in stage:
                raise ValueError(f"stage {position + 1} needs a 'type' (one of: {', '.join(STAGE_CONFIGS)})")
            config = STAGE_CONFIGS.get(stage["type"])
            if config is None:
                raise ValueError(
                    f"stage {position + 1}: unknown type '{stage['type']}' "
                    f"(one of: {', '.join(STAGE_CONFIGS)})"
                )
            try:
                typed.append(config.model_validate(stage))
            except ValidationError as error:
                raise ValidationError.from_exception_data(
                    error.title,
                    [
                        {
                            "type": item["type"],
                            "loc": (position, *item["loc"]),
                            "input": item["input"],
                            **({"ctx": item["ctx"]} if "ctx" in item else {}),
                        }
                        for item in error.errors()
                    ],
                ) from None
        return typed

    def build_stages(self) -> list[Stage]:
        """The stage objects, in recipe order."""
        return [config.build() for config in self.stages]  # type: ignore[attr-defined]

    def run_options(self, **overrides: Any) -> RunOptions:
        """Run options from the recipe, with CLI overrides (None means 'not given')."""
        read = self.read.model_dump()
        read.update({k: v for k, v in overrides.items() if v is not None and k != "output_format"})
        output_format = overrides.get("output_format") or self.output.format
        return RunOptions(read=ReadOptions(**read), output_format=output_format)

    def identity(self) -> dict[str, Any]:
        """What of the recipe defines a run's results (stages and their parameters)."""
        return {"stages": [config.model_dump(mode="json") for config in self.stages]}


def parse_recipe(data: dict[str, Any], *, origin: str = "recipe") -> Recipe:
    """Validate a recipe given as a dict; errors name the key and the problem."""
    try:
        return Recipe.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc']) or '(top level)'}: {item['msg']}"
            for item in error.errors()
        )
        raise RecipeError(f"{origin}: {problems}") from None


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
