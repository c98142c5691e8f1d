"""Training and loading any family's models: the same path for every preset."""

from __future__ import annotations

import contextlib
import csv
import functools
import json
import math
import os
import pathlib
import shutil

import keras
import tensorflow as tf

from dcn_keras import distribute, measure
from dcn_keras.atomic import atomic_path, check_file_path
from dcn_keras.data.manifest import sha256

PRECISIONS = ("float32", "bfloat16", "auto")


def resolve_precision(precision: str) -> str:
    """"float32" or "bfloat16" ("bfloat16" is Keras' mixed_bfloat16: float32 weights, bfloat16
    activations). "auto" is bfloat16 where this machine computes it natively
    (`measure.native_bfloat16`) and float32 elsewhere, where bfloat16 is emulated and slow."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}.")
    if precision == "auto":
        return "bfloat16" if measure.native_bfloat16() else "float32"
    return precision


def build(family, kind: str, precision: str = "float32", **options) -> keras.Model:
    """`family.build(kind, **options)` under the dtype policy of `precision`
    (`resolve_precision`)."""
    precision = resolve_precision(precision)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    try:
        return family.build(kind, **options)
    finally:
        keras.config.set_dtype_policy(previous)


def batch_norm_layers(model) -> list:
    """Every `BatchNormalization` layer of `model`, nested models included."""
    return _layers_of(model, keras.layers.BatchNormalization)


def _layers_of(model, kind) -> list:
    found = []
    for layer in getattr(model, "layers", []):
        found += [layer] if isinstance(layer, kind) else _layers_of(layer, kind)
    return found


def recalibrate_batch_norm(model, data, batches: int) -> None:
    """Set the moving statistics of `model`'s batch normalisation layers to the average of
    the batch statistics over the first `batches` batches of `data`.

    Moving averages with Keras' momentum of 0.99 trail the weights by about 100 steps, and
    after a few hundred steps they still describe the untrained network: a short run then
    validates at chance level. This is the re-estimation that stochastic weight averaging
    uses (torch.optim.swa_utils.update_bn), with dropout off: inference reads the layers
    without dropout, and dropout changes the variance that the next layer's normalisation
    sees. On the house-numbers fine model after 2 epochs (2,000 validation crops, 600
    scored) the moving statistics gave 81% sequence error, batch statistics 20% with dropout
    and 18% without.
    """
    layers = batch_norm_layers(model)
    if not layers or batches < 1:
        return
    momenta = [layer.momentum for layer in layers]
    dropouts = _layers_of(model, keras.layers.Dropout)
    rates = [layer.rate for layer in dropouts]
    for layer in layers:
        # With momentum 0 a training-mode call leaves each layer's batch statistics in its
        # moving statistics; the graph traced below keeps that 0.
        layer.momentum = 0.0
    for layer in dropouts:
        layer.rate = 0.0  # read when the graph below is traced
    try:
        # A partial, not a lambda: a new function every epoch from one lambda's code object
        # reads to TensorFlow as retracing.
        forward = tf.function(functools.partial(model, training=True))
        sums = [[tf.zeros_like(layer.moving_mean), tf.zeros_like(layer.moving_variance)]
                for layer in layers]
        count = 0
        for batch in data.take(batches):
            forward(keras.utils.unpack_x_y_sample_weight(batch)[0])
            for pair, layer in zip(sums, layers):
                pair[0] += layer.moving_mean
                pair[1] += layer.moving_variance
            count += 1
        for (mean, variance), layer in zip(sums, layers):
            if count:
                layer.moving_mean.assign(mean / count)
                layer.moving_variance.assign(variance / count)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
        for layer, rate in zip(dropouts, rates):
            layer.rate = rate


class BatchNormRecalibration(keras.callbacks.Callback):
    """`recalibrate_batch_norm` on about `images` training images before every validation,
    so that the epoch chosen and saved is scored with settled statistics."""

    def __init__(self, train, images: int):
        super().__init__()
        self.train, self.images, self.batches = train, images, None

    def on_test_begin(self, logs=None):
        recalibrate_batch_norm(self.model, self.train, self._batches())

    def replay(self) -> None:
        """Make the iterators over the training data that one epoch's `on_test_begin`
        makes, without reading them (see `_replay_epochs`)."""
        iter(self.train.take(self._batches()))

    def _batches(self) -> int:
        if self.batches is None:  # the batch size, from the first batch, once
            first = keras.utils.unpack_x_y_sample_weight(next(iter(self.train.take(1))))[0]
            self.batches = max(1, -(-self.images // int(first.shape[0])))
        return self.batches


class DivergenceError(RuntimeError):
    """The loss became NaN or infinite; nothing of the run was kept."""


class DivergenceGuard(keras.callbacks.Callback):
    """Stops training at the first step whose loss is not finite (NaN or infinite), noting
    where, so that `fit` can drop the run instead of saving a model that computes NaN."""

    def __init__(self):
        super().__init__()
        self.epoch, self.where = 0, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.where = (self.epoch + 1, batch + 1, float(loss))
            self.model.stop_training = True


def fit(model: keras.Model, family, train, valid, epochs: int, out_path: str | os.PathLike,
        learning_rate: float = 1e-3, verbose: int | str = "auto",
        batch_norm_images: int = 0, backup: str | os.PathLike | None = None,
        log_dir: str | os.PathLike | None = None,
        epochs_dir: str | os.PathLike | None = None) -> keras.callbacks.History:
    """Compile `model` as `family` does, train it, keep the epoch with the best validation
    score (`family.monitor`) and save it atomically.

    Training resumes after an interruption: each finished epoch, and each eighth of an
    epoch (`BACKUPS_PER_EPOCH`), leaves the weights, the optimizer state, the best model so
    far and the history in `backup_dir(out_path)`, and a rerun with the same `out_path`
    goes on from there (Keras' `BackupAndRestore`; `EpochBackup` for the steps within an
    epoch, which the rerun skips in that epoch's shuffle). The resumed run's weights are
    the uninterrupted run's; only the training metrics logged for an epoch resumed inside
    it cover its remaining steps alone. The backup is removed once `out_path` is written.
    `backup` puts it elsewhere: where a rerun finds it when `out_path` changes from run to
    run (a TFX artifact).

    With `log_dir`, TensorBoard logs (per-epoch scalars: losses, accuracy, and the hint
    distance of a DCN; and the family's pictures, `family.summaries`) go there.

    With `epochs_dir`, every finished epoch's weights go there as `epoch_NN.weights.h5`
    (for curves of test error per epoch, `reproduce/house_numbers_curves.py`).

    With `batch_norm_images` > 0, batch normalisation statistics are re-estimated on that
    many training images before each validation (`BatchNormRecalibration`).

    Writes `out_path` (.keras) and `<stem>_history.csv` beside it. A loss that becomes NaN or
    infinite stops the run with `DivergenceError`; its backup and the epochs it wrote are
    removed, and `out_path` is not written. A run that fails before it saved a state to resume
    from removes the backup, `log_dir` and `epochs_dir` folders it made.
    """
    out_path = check_model_path(out_path)  # before training, not after it
    backup = pathlib.Path(backup) if backup else backup_dir(out_path)
    with _removed_if_failed(backup, [backup, log_dir, epochs_dir]):
        return _fit(model, family, train, valid, epochs, out_path, learning_rate, verbose,
                    batch_norm_images, backup, log_dir, epochs_dir)


@contextlib.contextmanager
def _removed_if_failed(backup: pathlib.Path, folders: list):
    """Remove those of `folders` (None: no folder) that do not exist yet if the block fails,
    unless `backup` then holds a state that a rerun resumes from: a failed run leaves no
    empty folders behind, and never removes what held earlier state."""
    made = [pathlib.Path(folder) for folder in folders
            if folder is not None and not pathlib.Path(folder).exists()]
    try:
        yield
    except BaseException:
        if not _resumable(backup / "state"):
            for folder in made:
                shutil.rmtree(folder, ignore_errors=True)
        raise


def _fit(model, family, train, valid, epochs: int, out_path: pathlib.Path,
         learning_rate: float, verbose, batch_norm_images: int, backup: pathlib.Path,
         log_dir, epochs_dir) -> keras.callbacks.History:
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}.")
    steps = int(train.cardinality())
    if steps < 1:
        raise ValueError(f"The training data has no complete batch (cardinality {steps}); "
                         "build it with more training images.")
    family.compile(model, learning_rate, epochs * steps)
    monitor, mode = family.monitor
    best, history_csv = backup / out_path.name, backup / "history.csv"
    _settle(backup / "state")
    finished, done = _progress(backup)
    previous = _history_rows(history_csv)[:finished]
    _write_rows(history_csv, previous)  # drops the row of an epoch that did not finish
    scores = [float(row[monitor]) for row in previous if row.get(monitor)]
    callbacks = [
        keras.callbacks.ModelCheckpoint(
            str(best), monitor=monitor, mode=mode, save_best_only=True,
            initial_value_threshold=(min if mode == "min" else max)(scores) if scores
            else None),
        keras.callbacks.CSVLogger(str(history_csv), append=True),
    ]
    recalibration = None
    if batch_norm_images > 0:
        # It runs as validation starts, so the epoch is scored (and checkpointed) with the
        # re-estimated statistics.
        recalibration = BatchNormRecalibration(train, batch_norm_images)
        callbacks.append(recalibration)
    if log_dir:
        callbacks.append(keras.callbacks.TensorBoard(str(log_dir), write_graph=False))
        callbacks += family.summaries(model, valid, log_dir)
    if epochs_dir:
        epochs_dir = pathlib.Path(epochs_dir)
        epochs_dir.mkdir(parents=True, exist_ok=True)
        # From a run that this one replaces, or epochs that a resumed run redoes.
        for old in _epoch_files_after(epochs_dir, finished):
            old.unlink()
        callbacks.append(keras.callbacks.ModelCheckpoint(
            str(pathlib.Path(epochs_dir) / "epoch_{epoch:02d}.weights.h5"),
            save_weights_only=True))
    # First, so that a diverged step ends the epoch before anything saves it.
    guard = DivergenceGuard()
    callbacks.insert(0, guard)
    # Last: an epoch counts as finished only once its checkpoint and history row exist.
    callbacks.append(EpochBackup(backup / "state", max(1, steps // BACKUPS_PER_EPOCH), done))
    if finished or done:
        where = f"in epoch {finished + 1} after step {done} of {steps}" if done else \
            f"after epoch {finished}"
        print(f"Resuming from {backup} {where} of {epochs} (delete that folder to start "
              "over)", flush=True)
        _replay_epochs(train, finished, recalibration)
    if tf.distribute.has_strategy():
        _build_from_spec(model, train.element_spec)
    if done:
        # The rest of the epoch that was cut: `skip` reads that epoch's order (the shuffle
        # draws it as the uninterrupted run did) and drops the steps already taken.
        # `epochs` in full, stopped after the one, so the progress reads "Epoch N/epochs".
        stop = keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: setattr(model, "stop_training", True))
        model.fit(train.skip(done), validation_data=valid, initial_epoch=finished,
                  epochs=epochs, callbacks=[*callbacks, stop], verbose=verbose, shuffle=False)
    if guard.where is None:
        # The training dataset shuffles itself.
        history = model.fit(train, validation_data=valid, epochs=epochs, callbacks=callbacks,
                            verbose=verbose, shuffle=False)
    if guard.where is not None:
        _drop_diverged(backup, epochs_dir, finished)
        epoch, step, loss = guard.where
        raise DivergenceError(
            f"Training {out_path.name} diverged: the loss was {loss} at step {step} of epoch "
            f"{epoch} (learning rate {learning_rate:g}). Nothing was saved. Train again with a "
            f"lower --learning-rate (the recipe's is 1e-3), or check the data for NaN pixels.")
    if not best.exists():
        raise RuntimeError(f"No epoch of {out_path.name} improved {monitor}; nothing to save.")
    with atomic_path(out_path) as path:
        shutil.copyfile(best, path)
    with atomic_path(out_path.with_name(out_path.stem + "_history.csv")) as path:
        shutil.copyfile(history_csv, path)
    shutil.rmtree(backup)
    return history


def _drop_diverged(backup: pathlib.Path, epochs_dir, finished: int) -> None:
    """Remove what a diverged run wrote: its backup, and the epochs after the `finished`
    ones it resumed from."""
    shutil.rmtree(backup, ignore_errors=True)
    if epochs_dir:
        for old in _epoch_files_after(epochs_dir, finished):
            old.unlink()


def _epoch_files_after(epochs_dir, finished: int) -> list[pathlib.Path]:
    """The `epoch_NN.weights.h5` files of `epochs_dir` past epoch `finished` (all for 0)."""
    return [path for path in pathlib.Path(epochs_dir).glob("epoch_*.weights.h5")
            if int(path.name.split("_")[1].split(".")[0]) > finished]


def _build_from_spec(model: keras.Model, spec) -> None:
    """Make `fit` and `evaluate` build `model` from the data's `element_spec`.

    Under a strategy, Keras 3 builds a model by reducing its first batch across replicas,
    which fails under MultiWorkerMirroredStrategy ("unsupported type PerReplica",
    keras-team/keras#20585) and elsewhere draws a shuffle order that the run without a
    strategy does not; the build needs only the shapes and dtypes."""
    model._maybe_symbolic_build = \
        lambda iterator=None, data_batch=None: model._symbolic_build(data_batch=spec)


def _replay_epochs(train, epochs: int, recalibration: BatchNormRecalibration | None) -> None:
    """Advance the random streams of `train` past `epochs` finished epochs without reading a
    record, so that a resumed run sees the batches the uninterrupted run saw.

    A `tf.data` shuffle with `reshuffle_each_iteration` draws its next order each time an
    iterator is made. Keras' `EpochIterator` makes two per epoch (one as the epoch starts,
    one once the data runs out), then the batch-norm re-estimation makes its own (plus one
    once, for the batch size); tests/test_resume.py fails if that sequence changes."""
    for _ in range(epochs):
        iter(train)
        iter(train)
        if recalibration is not None:
            recalibration.replay()


def backup_dir(out_path: str | os.PathLike) -> pathlib.Path:
    """Where `fit` keeps the state of an unfinished training of `out_path`: a hidden folder
    beside it."""
    out_path = pathlib.Path(out_path)
    return out_path.with_name(f".{out_path.name}.backup")


BACKUPS_PER_EPOCH = 8  # an interrupted 2-hour epoch loses at most 15 minutes


# The files of a saved state: Keras' weights and metadata ("epoch", "batch"), and the record
# that `EpochBackup` writes after them. Each has a ".bkp" twin holding the state before.
WEIGHTS, METADATA, RECORD = "latest.weights.h5", "training_metadata.json", "record.json"


class EpochBackup(keras.callbacks.BackupAndRestore):
    """Keras' `BackupAndRestore` (state at every epoch's end, the previous one kept), which
    also saves every `every` steps within an epoch, with how many of the epoch's steps are
    done: counted from the epoch's start in a run that resumed inside it (`first_step`
    steps done before). The state stays when training ends (`fit` removes it once the model
    is written), so the `fit` call that finishes a cut epoch hands it to the next.

    Each state is checkable: after Keras has written the weights and the metadata, this
    records the weights' size and sha256 with the epoch and step, last, and `_saved_state`
    accepts a state only where all three agree. A state cut by a full disk or a kill is
    never resumed from (`_settle`).

    Saving by steps, not minutes, keeps the workers of a multi-worker run at one step."""

    def __init__(self, backup_dir, every: int, first_step: int = 0):
        super().__init__(str(backup_dir), double_checkpoint=True, delete_checkpoint=False)
        self.every, self.first_step = every, first_step

    def on_epoch_begin(self, epoch, logs=None):
        # Keras sets the epoch it saves only as an epoch ends: a resumed run, before its
        # first epoch ended, would save its steps as epoch 0's.
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        done = self.first_step + batch + 1
        # Not at the epoch's last step: its end saves, and a cut there would leave no steps.
        if done % self.every == 0 and batch + 1 < self.params["steps"]:
            self._last_batch_seen = done  # what the saved metadata calls "batch"
            self._save_model()

    def on_epoch_end(self, epoch, logs=None):
        self.first_step = 0
        super().on_epoch_end(epoch, logs)

    def _save_model(self):
        state = pathlib.Path(self.backup_dir)
        # The record of the state about to be replaced goes with Keras' copies of it.
        if (state / RECORD).exists():
            with atomic_path(state / f"{RECORD}.bkp") as tmp:
                shutil.copyfile(state / RECORD, tmp)
        else:  # a state without a record: none must vouch for its copy
            (state / f"{RECORD}.bkp").unlink(missing_ok=True)
        super()._save_model()
        # Last: until the record names these weights and this step, the state is incomplete.
        _write_record(state, self._current_epoch, self._last_batch_seen)


def _write_record(state: pathlib.Path, epoch: int, batch: int) -> None:
    weights = state / WEIGHTS
    record = {"epoch": int(epoch), "batch": int(batch), "bytes": weights.stat().st_size,
              "sha256": sha256(weights)}
    with atomic_path(state / RECORD) as tmp:
        tmp.write_text(json.dumps(record))


def _saved_state(state: pathlib.Path, suffix: str = "") -> tuple[int, int] | None:
    """(epochs finished, steps done in the next) of the state saved in `state` (`suffix`
    ".bkp": the one before it), or None unless it is complete: its metadata readable, and
    its record naming the same epoch and step and the weights' size and sha256. A state
    without a record, from an earlier release, is taken as Keras takes it."""
    try:
        metadata = json.loads((state / f"{METADATA}{suffix}").read_text())
        saved = int(metadata["epoch"]), int(metadata.get("batch", 0))
        weights = state / f"{WEIGHTS}{suffix}"
        if not weights.is_file():
            return None
        if not (state / f"{RECORD}{suffix}").exists():
            return saved
        record = json.loads((state / f"{RECORD}{suffix}").read_text())
        if (record["epoch"], record["batch"]) != saved or \
                record["bytes"] != weights.stat().st_size or record["sha256"] != sha256(weights):
            return None
        return saved
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _resumable(state: pathlib.Path) -> bool:
    """Whether `state` holds a complete state that a rerun resumes from."""
    return _saved_state(state) is not None or _saved_state(state, ".bkp") is not None


def _settle(state: pathlib.Path) -> None:
    """Leave in `state` a complete state for `EpochBackup` to restore, or none: the latest,
    else the one before it, which Keras' double checkpoint keeps, else nothing (the run
    starts over). A line names the folder when the latest state is incomplete."""
    if not state.is_dir() or not any(state.iterdir()) or _saved_state(state) is not None:
        return
    if _saved_state(state, ".bkp") is None:
        shutil.rmtree(state)
        print(f"The backup in {state} is incomplete (cut short by a full disk or a kill) and "
              "no complete one is left; training starts over.", flush=True)
        return
    # The metadata last: until it is copied the latest state stays incomplete, so a kill
    # in between leaves this to be done again.
    for name in (WEIGHTS, RECORD, METADATA):
        previous = state / f"{name}.bkp"
        if not previous.exists():  # a state without a record
            (state / name).unlink(missing_ok=True)
            continue
        with atomic_path(state / name) as tmp:
            shutil.copyfile(previous, tmp)
    print(f"The latest backup in {state} is incomplete (cut short by a full disk or a kill); "
          "resuming from the one before it.", flush=True)


def _progress(backup: pathlib.Path) -> tuple[int, int]:
    """(epochs finished, steps done in the next) whose state `EpochBackup` saved in
    `backup` ((0, 0) when none), once `_settle` has left only a complete one."""
    return _saved_state(backup / "state") or (0, 0)


def _history_rows(path: pathlib.Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


def _write_rows(path: pathlib.Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not rows:
        path.unlink(missing_ok=True)
        return
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def train(family, kind: str, train_data, valid_data, epochs: int,
          out_path: str | os.PathLike, learning_rate: float = 1e-3,
          precision: str = "float32", verbose: int | str = "auto",
          batch_norm_images: int = 0, start: keras.Model | None = None,
          backup: str | os.PathLike | None = None, log_dir: str | os.PathLike | None = None,
          epochs_dir: str | os.PathLike | None = None, **options) -> keras.callbacks.History:
    """Build a `kind` model of `family` (with `options` such as num_patches), fresh or from
    the weights of `start` (a composed DCN to fine-tune; for the house-numbers family, a
    trained model of `kind`), in the strategy's scope and `fit` it (`backup`, `log_dir`,
    `epochs_dir`: see `fit`). `precision` goes through
    `resolve_precision`. A model trained in mixed bfloat16 (1.33x faster for the
    house-numbers fine model on a CPU with AVX512-BF16, 11x slower on AVX2) is saved as a
    float32 copy of its best weights, so that inference and serving do not depend on it.

    In a multi-worker cluster (`distribute.strategy`) every worker trains on its share of
    each batch, and only the chief writes `out_path`, `backup` and `log_dir`; the others
    write to `distribute.worker_path(out_path)` (removed when done) and keep their backup at
    `distribute.worker_path(backup)`, where a rerun finds it."""
    if precision == "auto":
        precision = resolve_precision(precision)
        print(f"Precision auto: training in {precision} on this machine "
              f"({measure.cpu_features()})", flush=True)
    chief = distribute.is_chief()
    if not chief:
        out_path = distribute.worker_path(out_path)
        backup = backup and distribute.worker_path(backup)
        log_dir = None
    with distribute.strategy().scope():
        model = build(family, kind, precision, start=start, **options)
        history = fit(model, family, train_data, valid_data, epochs, out_path, learning_rate,
                      verbose, batch_norm_images, backup, log_dir,
                      epochs_dir if chief else None)
    if not chief:
        shutil.rmtree(out_path.parent)
        return history
    if precision != "float32":
        trained = keras.models.load_model(out_path, compile=False)
        copy = build(family, kind, "float32", start=start, **options)
        copy.set_weights(trained.get_weights())
        with atomic_path(out_path) as path:
            copy.save(path)
    return history


def check_model_path(path: str | os.PathLike) -> pathlib.Path:
    """`path` as a `pathlib.Path` where a model can be saved (`atomic.check_file_path`) as a
    `.keras` file: Keras would save a DCN to `.h5` without a word and then not load it (its
    layers are not registered there), or refuse any other suffix once training is done."""
    path = check_file_path(path)
    if path.suffix != ".keras":
        raise ValueError(f"Cannot save a model to {path}: models are saved as .keras files, "
                         f"which the other commands load. Pass an output path ending in "
                         f".keras, e.g. {path.with_suffix('.keras')}.")
    return path


def load_model(path: str | os.PathLike, family) -> keras.Model:
    """Load a `.keras` model and check, with `family.check`, that it was made for the
    family's preset."""
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No model at {path}. Train one first with `dcn train`.")
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as error:  # Keras raises many kinds for a damaged archive
        raise ValueError(f"{path} is not a loadable Keras model ({type(error).__name__}: "
                         f"{error}). Retrain it with `dcn train`.") from error
    family.check(model, path)
    return model
