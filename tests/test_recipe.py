"""One source of settings: each preset's recipes, and the CLI, pipeline and Makefile that
read them."""

import dataclasses
import pathlib
import re

import pytest

from dcn_keras import presets
from dcn_keras.recipe import PROFILES, Recipe
from dcn_keras_cli import cli

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("preset", ["cluttered_mnist", "house_numbers"])
def test_quick_and_smoke_derive_from_the_recorded_recipe(preset):
    family = presets.family(preset)
    assert set(family.recipes) == set(PROFILES)
    paper = family.recipe("paper")
    for profile in ("quick", "smoke"):
        derived = family.recipe(profile)
        changed = {f.name for f in dataclasses.fields(Recipe)
                   if getattr(derived, f.name) != getattr(paper, f.name)}
        assert changed and derived.train_images < paper.train_images
        assert dataclasses.replace(paper, **{name: getattr(derived, name)
                                             for name in changed}) == derived


def test_recorded_recipes_are_the_recorded_runs():
    # docs/cluttered_mnist.md and docs/house_numbers.md: the runs behind the figures.
    cluttered = presets.family("cluttered_mnist").recipe()
    assert (cluttered.train_images, cluttered.valid_images, cluttered.test_images,
            cluttered.epochs, cluttered.batch_size, cluttered.seeds,
            cluttered.fresh_canvases) == (28000, 1000, 10000, 12, 64, (0, 1, 2), True)
    # The all-patches row reads all 2,000 test images, as the recorded Table 2 does.
    house = presets.family("house_numbers").recipe()
    assert (house.train_images, house.valid_images, house.test_images, house.epochs,
            house.batch_size, house.precision, house.scales, house.all_patches_images,
            house.batch_norm_images) == (
        60000, 2000, 2000, 5, 32, "auto", (1.0, 0.75, 0.5), 2000, 2048)


def test_flags_override_the_recipe_and_none_keeps_it():
    family = presets.family("cluttered_mnist")
    args = cli.build_parser().parse_args(["experiment", "--out", "x", "--profile", "smoke",
                                          "--epochs", "3"])
    recipe = cli._recipe(args, family)
    assert recipe == dataclasses.replace(family.recipe("smoke"), epochs=3)


def test_seed_flags_pick_the_seeds_of_an_experiment():
    family = presets.family("cluttered_mnist")
    parse = cli.build_parser().parse_args
    assert cli._recipe(parse(["experiment", "--out", "x"]), family).seeds == (0, 1, 2)
    assert cli._recipe(parse(["experiment", "--out", "x", "--seed", "4"]), family).seeds == (4,)
    recipe = cli._recipe(parse(["experiment", "--out", "x", "--seeds", "3", "5",
                                "--no-fresh-canvases"]), family)
    assert recipe.seeds == (3, 5) and recipe.seed == 0 and not recipe.fresh_canvases
    with pytest.raises(ValueError, match="seeds must be distinct"):
        cli._recipe(parse(["experiment", "--out", "x", "--seeds", "1", "1"]), family)


def test_bad_recipes_are_refused_with_the_setting_named():
    with pytest.raises(ValueError, match="train_images must be at least 1"):
        presets.family("cluttered_mnist").recipe("smoke", train_images=-5)
    with pytest.raises(ValueError, match="precision"):
        presets.family("house_numbers").recipe(precision="float16")
    with pytest.raises(ValueError, match="profile"):
        presets.family("house_numbers").recipe("huge")


def test_the_makefile_repeats_no_recipe_numbers():
    makefile = (REPO / "Makefile").read_text()
    for flag in ("--train", "--valid", "--test", "--epochs", "--batch-size", "--precision"):
        assert not re.search(rf"dcn .*{flag}\b", makefile), flag
