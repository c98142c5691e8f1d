"""Where an experiment keeps its models when it trains them with several seeds."""

from __future__ import annotations

import pathlib
import re

_SEEDED = re.compile(r".+_s(\d+)\.keras$")


def model_path(models_dir, kind: str, seed: int, seeds: tuple[int, ...]) -> pathlib.Path:
    """`<kind>.keras` in `models_dir` for a run of one seed, `<kind>_s<seed>.keras` for a
    run of several."""
    name = f"{kind}.keras" if len(seeds) == 1 else f"{kind}_s{seed}.keras"
    return pathlib.Path(models_dir) / name


def find_models(models_dir, kinds, seeds: tuple[int, ...]) -> dict[int, dict[str, pathlib.Path]]:
    """{seed: {kind: path}} of the models of `kinds` in `models_dir`: `<kind>_s<seed>.keras`
    for each of `seeds` where any is there, else `<kind>.keras` as the first seed's."""
    models_dir = pathlib.Path(models_dir)
    found = {seed: {kind: models_dir / f"{kind}_s{seed}.keras" for kind in kinds
                    if (models_dir / f"{kind}_s{seed}.keras").exists()} for seed in seeds}
    if any(found.values()):
        return {seed: paths for seed, paths in found.items() if paths}
    single = {kind: models_dir / f"{kind}.keras" for kind in kinds
              if (models_dir / f"{kind}.keras").exists()}
    return {seeds[0]: single} if single else {}


def seeds_in(models_dir) -> tuple[int, ...]:
    """The seeds of the `<kind>_s<seed>.keras` files in `models_dir`, in order."""
    return tuple(sorted({int(match[1]) for path in pathlib.Path(models_dir).glob("*.keras")
                         if (match := _SEEDED.match(path.name))}))


def first_complete(models_dir, kinds) -> dict[str, pathlib.Path]:
    """{kind: path} of the first seed in `models_dir` with a model of every kind of `kinds`
    (`find_models`); raises FileNotFoundError where no seed has them all."""
    for paths in find_models(models_dir, kinds, seeds_in(models_dir) or (0,)).values():
        if set(paths) == set(kinds):
            return paths
    raise FileNotFoundError(f"{models_dir} holds no complete set of {', '.join(kinds)} "
                            "models (<kind>.keras or <kind>_s<seed>.keras). Train them with "
                            "`dcn experiment` or `dcn train`.")
