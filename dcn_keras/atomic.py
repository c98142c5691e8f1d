"""Atomic file output: a reader sees the old file or the complete new one.

Temporary files and directories are created like ordinary ones, with mode 0666 / 0777 less
the process umask, not owner-only as `tempfile.mkstemp` / `mkdtemp` make them: a model or a
data set written here must be readable by a TF Serving or training process that runs as
another user, exactly as if it had been written in place.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import secrets
import shutil

_ATTEMPTS = 100  # random names tried before giving up (a collision needs 2**32 luck)


class PathBlockedError(FileExistsError):
    """A file stands where a writer needs a folder (or a folder where it needs a file); the
    message names it and the fix."""


def _check_parents(path: pathlib.Path) -> None:
    """Raise `PathBlockedError` naming the file that stands where a folder above `path`
    should be (`mkdir` would say only "File exists")."""
    for folder in (path.parent, *path.parent.parents):
        if folder.is_dir():
            return
        if folder.exists() or folder.is_symlink():
            kind = "a file" if folder.is_file() else "not a folder"
            raise PathBlockedError(
                f"Cannot write {path}: {folder} is {kind}, and {path} would go inside it. "
                f"Pass an output path (--out) outside {folder}, or move {folder} away.")


def check_file_path(path: str | os.PathLike) -> pathlib.Path:
    """`path` as a `pathlib.Path`, or `PathBlockedError` where no file can be written there: a
    folder is at `path`, or a file where a folder above it should be. For work that checks
    its output path before hours of computing, as `atomic_path` does when it writes."""
    path = pathlib.Path(path)
    if path.is_dir():
        raise PathBlockedError(f"Cannot write the file {path}: a folder of that name is there. "
                               "Pass another output path, or move the folder away.")
    _check_parents(path)
    return path


def _fresh(parent: pathlib.Path, prefix: str, suffix: str, create) -> pathlib.Path:
    """`create(path)` on a new random name `parent/<prefix>XXXXXXXX<suffix>`; returns it."""
    for _ in range(_ATTEMPTS):
        path = parent / f"{prefix}{secrets.token_hex(4)}{suffix}"
        try:
            create(path)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"No free temporary name {prefix}*{suffix} in {parent}.")


def _create_file(path: pathlib.Path) -> None:
    # O_EXCL reserves the name as mkstemp does; 0o666 lets the umask decide, as open() does.
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))


def temporary_file(parent: pathlib.Path, prefix: str, suffix: str = "") -> pathlib.Path:
    """A new empty file in `parent` (mode 0666 less the umask)."""
    return _fresh(parent, prefix, suffix, _create_file)


def temporary_directory(parent: pathlib.Path, prefix: str) -> pathlib.Path:
    """A new empty directory in `parent` (mode 0777 less the umask)."""
    return _fresh(parent, prefix, "", lambda path: os.mkdir(path, 0o777))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside `path`; on success move it into place.

    On error the temporary file is removed and whatever was at `path` stays. A folder at
    `path`, or a file where a folder above it should be, raises `PathBlockedError`.
    """
    path = check_file_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Keep the suffix: Keras and matplotlib pick the format from it. The dot prefix hides it
    # from readers' globs (`dcn_keras.data.tfrecords.list_files`) if a killed writer leaves it.
    tmp = temporary_file(path.parent, f".{path.stem}.tmp-", path.suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def leftovers(path: str | os.PathLike) -> list[pathlib.Path]:
    """The hidden temporary siblings of `path` that an `atomic_directory` killed before it
    finished left behind (`.<name>.tmp-*`, `.<name>.old-*`)."""
    path = pathlib.Path(path)
    if not path.parent.is_dir():
        return []
    return sorted(p for p in path.parent.iterdir()
                  if p.name.startswith((f".{path.name}.tmp-", f".{path.name}.old-")))


def _swap_in(tmp: pathlib.Path, path: pathlib.Path) -> None:
    """Put directory `tmp` at `path`, replacing the directory there: the old one is renamed
    aside first, so a reader sees the old directory, for an instant none, or the new one,
    never a mix of both. A kill between the renames leaves both hidden beside `path`."""
    old = path.parent / f".{path.name}.old-{secrets.token_hex(4)}"
    os.rename(path, old)
    os.rename(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, replace: bool = False):
    """Yield a temporary directory beside `path`; on success rename it to `path`.

    `path` must not exist yet (a finished directory is never replaced) unless `replace`:
    then an existing directory at `path` is replaced as a whole on success (`_swap_in`). On
    error the temporary directory is removed and `path` is left as it was. A file at `path`,
    or where a folder above it should be, raises `PathBlockedError`.
    """
    path = pathlib.Path(path)
    if path.exists() and not path.is_dir():
        raise PathBlockedError(f"Cannot write the folder {path}: a file of that name is there. "
                               "Pass another output path, or move the file away.")
    if path.exists() and not replace:
        raise FileExistsError(f"{path} already exists; choose another name or remove it.")
    _check_parents(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The dot prefix keeps half-written directories out of TF Serving's numeric version scan.
    tmp = temporary_directory(path.parent, f".{path.name}.tmp-")
    try:
        yield tmp
        if replace and path.exists():
            _swap_in(tmp, path)
        else:
            os.rename(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
