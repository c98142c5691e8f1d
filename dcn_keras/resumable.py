"""Per-image results of a long evaluation, saved as they come, so that a killed run resumes
from its last saved batch: Table 2's fine network on every window reads about a million fine
crops on 2,000 test images, hours on 2 CPU cores."""

from __future__ import annotations

import hashlib
import pathlib
import zipfile

import numpy as np

from dcn_keras.atomic import atomic_path


class SavedMarks:
    """`values` `[rows, items]`, filled a batch of items at a time (`record`), each batch
    saved to `path` (.npz, atomically: a few kB, against seconds of reading per batch).
    A SavedMarks on a path that holds saved values of the same shape starts from them;
    `pending` tells which batches are left. `path` None: kept in memory only."""

    def __init__(self, path, shape: tuple[int, int], dtype=bool):
        self.path = path and pathlib.Path(path)
        self.values = np.zeros(shape, dtype)
        self.done = np.zeros(shape[-1], bool)
        if self.path and self.path.exists():
            self._load()

    def _load(self) -> None:
        try:
            with np.load(self.path) as saved:
                values, done = saved["values"], saved["done"]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
            print(f"Starting over: cannot read saved progress {self.path} ({error}).",
                  flush=True)
            return
        if values.shape == self.values.shape and done.shape == self.done.shape:
            self.values[...], self.done[...] = values, done

    def pending(self, items) -> bool:
        """Whether any of `items` (indices into the last axis) is not recorded yet."""
        return not self.done[items].all()

    def record(self, items, values) -> None:
        """Set `values` `[rows, len(items)]` for `items` and save."""
        self.values[..., items] = values
        self.done[items] = True
        if self.path:
            with atomic_path(self.path) as tmp:
                np.savez(tmp, values=self.values, done=self.done)


def digest(*parts) -> str:
    """A short hex digest of `parts`: arrays (by dtype, shape and bytes) and anything with a
    stable `repr`, so that saved progress is reused only for the same models and inputs."""
    sha = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            sha.update(f"{part.dtype}{part.shape}".encode())
            sha.update(np.ascontiguousarray(part).tobytes())
        else:
            sha.update(repr(part).encode())
    return sha.hexdigest()[:16]
