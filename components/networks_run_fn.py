"""`run_fn` for TFX's standard Trainer: the DCN (or a baseline) of a module file's networks,
trained on the Examples of this project's example generators.

The module file defines the networks as `dcn_keras.from_networks.module_file` reads them and
adds two lines:

    from components.networks_run_fn import run_fn_for
    run_fn = run_fn_for(__name__)

The Trainer names no module in `FnArgs` and imports a module file under a name of its own
(from a wheel it builds), so the module names itself. `Trainer(custom_config=...)` carries
the settings (`SETTINGS`).

Writes, for the Trainer's Model artifact at `<model>`: `<model>/model.keras` and its history
CSV, as `DcnTrainer` does (`components.artifacts`), the model's kind (`KIND_FILE`, which
`NetworksEvaluator` reads), and the TF Serving SavedModel with the family's signatures to
`fn_args.serving_model_dir` (`<model>/Format-Serving`), which the standard Pusher pushes;
TensorBoard logs go to `fn_args.model_run_dir`.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys
import types

import keras

from components import artifacts
from dcn_keras import atomic, distribute, presets, training
from dcn_keras.from_networks import module_file
from dcn_keras.serving import export

# custom_config key -> default (None: the profile's recipe decides).
SETTINGS = {"preset": None, "model_kind": "dcn", "profile": "paper", "epochs": None,
            "batch_size": None, "learning_rate": None, "seed": None}


def run_fn_for(module_name: str):
    """The `run_fn` that TFX's Trainer calls for the module file imported as `module_name`
    (`run_fn = run_fn_for(__name__)` in that file): `train(that module, fn_args)`."""

    def run_fn(fn_args) -> None:
        module = sys.modules.get(module_name)
        if module is None:
            raise ValueError(f"No module {module_name!r} is imported: pass "
                             "run_fn_for(__name__) from the module file of networks that "
                             "the Trainer takes as its module_file (docs/own_networks.md).")
        train(module, fn_args)

    return run_fn


def run_fn(fn_args) -> None:
    """Refuses, saying what to write: the Trainer was given this module's `run_fn` by name,
    which has no networks."""
    raise ValueError(f"{__name__}.run_fn has no networks: give the Trainer your module file "
                     f"of networks as its module_file, with `from {__name__} import "
                     "run_fn_for` and `run_fn = run_fn_for(__name__)` in it "
                     "(docs/own_networks.md).")


def settings(custom_config) -> dict:
    """`SETTINGS` with the Trainer's `custom_config` over them; unknown or missing ones
    raise an error that says what to pass."""
    config = dict(custom_config or {})
    unknown = sorted(set(config) - set(SETTINGS))
    if unknown:
        raise ValueError(f"Trainer custom_config has unknown settings {unknown}; the networks "
                         f"run_fn reads {sorted(SETTINGS)} (docs/own_networks.md).")
    if not config.get("preset"):
        raise ValueError("Trainer custom_config names no 'preset': pass custom_config="
                         "{'preset': 'cluttered_mnist'} (or 'megapixel_mnist'), the data set "
                         "of the Examples the Trainer reads (docs/own_networks.md).")
    return {**SETTINGS, **config}


def train(module, fn_args) -> None:
    """Train `fn_args.custom_config`'s `model_kind` of `module`'s networks on the Trainer's
    train and eval files and write the model (module docstring)."""
    distribute.strategy()  # before any TensorFlow op: a TF_CONFIG cluster needs it first
    config = settings(fn_args.custom_config)
    _refuse_unsupported(fn_args)
    base = presets.family(config["preset"])
    examples_uri = _examples_uri(fn_args.train_files, base.name)
    family = module_file.ModuleFamily.from_module(
        module, base, f"The Trainer's module_file (imported as {module.__name__})"
    ).for_data(examples_uri)
    kind = config["model_kind"]
    family.check_kind(kind)
    recipe = family.recipe(config["profile"], epochs=config["epochs"],
                           dcn_epochs=config["epochs"], learning_rate=config["learning_rate"],
                           batch_size=config["batch_size"], seed=config["seed"])
    keras.utils.set_random_seed(recipe.seed)
    # Counts None: the files are counted (and checked) once as they are read.
    train_data, valid = family.datasets(fn_args.train_files, fn_args.eval_files,
                                        recipe.batch_size, recipe.seed, (None, None), kind)
    options = family.train_options(kind, recipe)
    model_uri = os.path.dirname(fn_args.serving_model_dir.rstrip("/"))
    keras_path = os.path.join(model_uri, artifacts.KERAS_FILE)
    # Beside the component's artifacts, keyed by what shapes training: a rerun after a kill
    # (a new artifact) resumes there, as `DcnTrainer` does.
    backup = artifacts.resume_dir(types.SimpleNamespace(uri=model_uri), {
        **options, "config": family.config.to_dict(), "examples": examples_uri,
        "model_kind": kind, "seed": recipe.seed, "batch_size": recipe.batch_size,
        "module": _digest(module)})
    training.train(family, kind, train_data, valid, out_path=keras_path, verbose=2,
                   backup=backup, log_dir=fn_args.model_run_dir, **options)
    if distribute.is_chief():
        export.write_saved_model(training.load_model(keras_path, family),
                                 fn_args.serving_model_dir, family)
        atomic.write_text(os.path.join(model_uri, artifacts.KIND_FILE), kind + "\n")


def _digest(module) -> str:
    """What identifies the module's code: its file's sha256 (an edited file must not resume
    the state of another), else its name."""
    path = getattr(module, "__file__", None)
    return module_file.digest(path) if path and os.path.isfile(path) else module.__name__


def _refuse_unsupported(fn_args) -> None:
    """Trainer settings this run_fn would otherwise ignore silently."""
    for name, fix in (("train_steps", "set custom_config['epochs'] and leave train_args' "
                                      "num_steps unset"),
                      ("eval_steps", "leave eval_args' num_steps unset (each epoch "
                                     "validates on the whole eval split)"),
                      ("base_model", "drop base_model, or warm-start with DcnTrainer"),
                      ("transform_graph_path", "drop transform_graph: the networks read "
                                               "the example generator's records"),
                      ("hyperparameters", "drop hyperparameters and set custom_config")):
        if getattr(fn_args, name, None):
            raise ValueError(f"The networks run_fn does not use the Trainer's {name}: {fix} "
                             "(docs/own_networks.md).")


def _examples_uri(train_files: list, dataset: str) -> str:
    """The Examples artifact of the Trainer's train files (`<examples>/Split-train/*`),
    checked to hold `dataset`, as this project's example generators write it."""
    examples_uri = os.path.dirname(os.path.dirname(train_files[0]))
    path = os.path.join(examples_uri, "metadata.json")
    if not os.path.isfile(path):
        raise ValueError(f"The Trainer's examples ({examples_uri}) have no metadata.json: the "
                         "networks run_fn trains on the Examples of ClutteredMnistExampleGen "
                         "or MegapixelMnistExampleGen (components/).")
    found = json.loads(pathlib.Path(path).read_text()).get("dataset")
    if found != dataset:
        raise ValueError(f"The Trainer's examples hold {found} images but custom_config's "
                         f"preset is {dataset!r}; set 'preset': {found!r}.")
    return examples_uri
