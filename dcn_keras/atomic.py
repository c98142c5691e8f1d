"""Atomic file output: a reader sees the old file or the complete new one."""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import tempfile


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside `path`; on success move it into place.

    On error the temporary file is removed and whatever was at `path` stays.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Keep the suffix: Keras and matplotlib pick the format from it.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.tmp-", suffix=path.suffix)
    os.close(fd)
    tmp = pathlib.Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike):
    """Yield a temporary directory beside `path`; on success rename it to `path`.

    `path` must not exist yet (a finished directory is never replaced); on error the
    temporary directory is removed.
    """
    path = pathlib.Path(path)
    if path.exists():
        raise FileExistsError(f"{path} already exists; choose another name or remove it.")
    path.parent.mkdir(parents=True, exist_ok=True)
    # The dot prefix keeps half-written directories out of TF Serving's numeric version scan.
    tmp = pathlib.Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
    try:
        yield tmp
        os.rename(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
