from pathlib import Path

import pytest

from filters.dedup.exact import ExactDedup
from filters.dedup.minhash import MinHashDedup
from flows.recipe import Recipe, load_recipe, parse_recipe
from pipeline.errors import RecipeError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipe.toml"
    path.write_text(text)
    return path


def test_default_recipe_is_exact_then_near_dedup() -> None:
    stages = Recipe().build_stages()
    assert [type(s) for s in stages] == [ExactDedup, MinHashDedup]
    assert stages[1].config.threshold == 0.8 and stages[1].config.band_rows() == (16, 8)


def test_recipe_sets_stage_parameters_and_read_options(tmp_path: Path) -> None:
    recipe = load_recipe(
        write(
            tmp_path,
            """
[read]
text_field = "body"
on_error = "fail"

[output]
format = "jsonl"

[[stages]]
type = "exact_dedup"
normalization = { lowercase = false, unicode = "none" }
""",
        )
    )
    options = recipe.run_options(on_error=None)
    assert options.read.text_field == "body" and options.read.on_error == "fail"
    assert options.output_format == "jsonl"
    assert recipe.build_stages()[0].config.normalization.lowercase is False
    assert recipe.run_options(on_error="quarantine").read.on_error == "quarantine"  # CLI wins


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[read]\ntext_feild = 'x'\n", "read.text_feild: Extra inputs are not permitted"),
        ("[read]\nbatch_size = 0\n", "read.batch_size: Input should be greater than or equal to 1"),
        ("[[stages]]\ntype = 'exact_dedup'\nlowercase = true\n", "stages.0.lowercase: Extra inputs"),
        (
            "[[stages]]\ntype = 'teleport'\n",
            "stage 1: unknown type 'teleport' (one of: exact_dedup, minhash_dedup, language,",
        ),
        ("[[stages]]\nnormalization = {}\n", "stage 1 needs a 'type'"),
        ("[output]\nformat = 'xml'\n", "output.format: Input should be 'parquet' or 'jsonl'"),
        ("stages = [", "not valid TOML"),
        ("[[stages]]\ntype = 'minhash_dedup'\nthreshold = 1.5\n", "stages.0.threshold: Input should be less"),
        ("[[stages]]\ntype = 'minhash_dedup'\nbands = 20\nrows = 10\n", "exceeds num_perm = 128"),
        ("[[stages]]\ntype = 'minhash_dedup'\nupdate_index = true\n", "update_index needs an index folder"),
    ],
)
def test_bad_recipe_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(RecipeError) as error:
        load_recipe(path)
    assert str(path) in str(error.value)
    assert message in str(error.value)


def test_missing_recipe_file(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="no such recipe file"):
        load_recipe(tmp_path / "nope.toml")


def test_identity_changes_with_parameters() -> None:
    a = parse_recipe({"stages": [{"type": "exact_dedup"}]}).identity()
    b = parse_recipe({"stages": [{"type": "exact_dedup", "normalization": {"lowercase": False}}]}).identity()
    assert a != b


def test_presets_parse_and_dedup_is_the_default() -> None:
    from flows.presets import PRESETS
    from flows.recipe import preset_recipe

    assert preset_recipe("dedup").identity() == Recipe().identity()
    for name in PRESETS:
        assert preset_recipe(name).build_stages()
    with pytest.raises(RecipeError, match="unknown preset 'nope'"):
        preset_recipe("nope")
