"""Test error of every Cluttered MNIST model of a multi-seed study, with standard errors.

A study directory holds `data/` (from `dcn data`) and `models/<name>_s<seed>.keras` (from
`dcn train --seed`, `dcn compose`, `dcn train --start`). This scores every model on the
whole test split: DCN kinds at k = 1 ... 32 as well as at their own k. Each error comes with
its binomial standard error; each group of seeds with its mean, its sample standard
deviation and the standard error of that mean. The commands behind the recorded study are in
docs/cluttered_mnist.md.

    .venv/bin/python reproduce/cluttered_mnist_seeds.py runs/study
"""

import argparse
import collections
import json
import math
import pathlib
import re
import statistics

from dcn_keras import atomic, measure, presets, training
from dcn_keras.classifier.model import DynamicCapacityNetwork
from dcn_keras.cluttered_mnist import evaluation, multiplications

NAME = re.compile(r"(?P<name>.+)_s(?P<seed>\d+)\.keras$")


def score(model, test, count: int) -> dict:
    row = {"test_error": evaluation.error_rate(evaluation.inference_function(model), test)}
    row["standard_error"] = measure.standard_error(row["test_error"], count)
    if isinstance(model, DynamicCapacityNetwork):
        row["num_patches"] = model.num_patches
        row["error_versus_patches"] = evaluation.error_versus_patches(model, test)
        row["multiplications"] = multiplications.count(model.config, model.num_patches,
                                             bridge=model.bridge)["dcn"]["total"]
    return row


def summary(rows: list[dict]) -> dict:
    errors = [row["test_error"] for row in rows]
    spread = statistics.stdev(errors) if len(errors) > 1 else 0.0
    return {"count": len(errors), "mean": statistics.fmean(errors), "stdev": spread,
            "se_of_mean": spread / math.sqrt(len(errors)) if len(errors) > 1 else None}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", type=pathlib.Path)
    parser.add_argument("--models", default="*_s*.keras",
                        help="which files of <study>/models to score (a glob)")
    args = parser.parse_args(argv)
    family = presets.family("cluttered_mnist")
    metadata = json.loads((args.study / "data" / "metadata.json").read_text())
    test = family.test_dataset(args.study / "data" / "test.tfrecord", 100)
    count = sum(int(labels.shape[0]) for _, labels in test)
    groups = collections.defaultdict(dict)
    for path in sorted((args.study / "models").glob(args.models)):
        match = NAME.match(path.name)
        if match is None:
            continue
        model = training.load_model(path, family)
        groups[match["name"]][int(match["seed"])] = score(model, test, count)
        print(path.name, groups[match["name"]][int(match["seed"])]["test_error"], flush=True)
    result = {"data": family.data.describe(metadata), "test_images": count,
              "machine": measure.machine_description(),
              "fine_model_multiplications":
                  multiplications.count(family.config)["fine_model"]["total"],
              "models": {name: {"seeds": seeds, **summary(list(seeds.values()))}
                         for name, seeds in groups.items()}}
    lines = [f"Test error on {count:,} test canvases; per seed with its binomial standard "
             "error, then the mean over seeds with its sample standard deviation.", "",
             "| model | per seed | mean | stdev |", "|---|---|---:|---:|"]
    for name, group in result["models"].items():
        seeds = ", ".join(f"s{seed} {100 * row['test_error']:.2f} ± "
                          f"{100 * row['standard_error']:.2f}"
                          for seed, row in sorted(group["seeds"].items()))
        lines.append(f"| {name} | {seeds} | {100 * group['mean']:.2f}% | "
                     f"{100 * group['stdev']:.2f} |")
    curves = {name: group for name, group in result["models"].items()
              if all("error_versus_patches" in row for row in group["seeds"].values())}
    if curves:
        ks = sorted(next(iter(next(iter(curves.values()))["seeds"].values()))
                    ["error_versus_patches"])
        lines += ["", "Mean test error over seeds versus k:", "",
                  "| model | " + " | ".join(f"k={k}" for k in ks) + " |",
                  "|---|" + "---:|" * len(ks)]
        for name, group in curves.items():
            means = [statistics.fmean(row["error_versus_patches"][k]
                                      for row in group["seeds"].values()) for k in ks]
            lines.append(f"| {name} | " + " | ".join(f"{100 * m:.2f}%" for m in means) + " |")
    lines += ["", f"Data: {result['data']}", f"Machine: {result['machine']}"]
    stem = "seeds" if args.models == parser.get_default("models") else \
        "seeds_" + re.sub(r"[^A-Za-z0-9]+", "_", args.models).strip("_")
    atomic.write_text(args.study / f"{stem}.json", json.dumps(result, indent=2))
    atomic.write_text(args.study / f"{stem}.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
