"""Atomic writes honour the umask as ordinary writes do, and leave nothing behind on error."""

import contextlib
import os
import stat

import pytest

from dcn_keras import atomic


@contextlib.contextmanager
def umask(mask: int):
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask, file_mode, dir_mode", [
    (0o022, 0o644, 0o755),  # the usual umask: a server running as another user can read
    (0o077, 0o600, 0o700),  # a private umask stays private
    (0o002, 0o664, 0o775),
])
def test_atomic_files_and_directories_get_the_modes_of_ordinary_writes(tmp_path, mask,
                                                                       file_mode, dir_mode):
    with umask(mask):
        atomic.write_text(tmp_path / "a.json", "{}")
        with atomic.atomic_path(tmp_path / "b.keras") as tmp:
            tmp.write_bytes(b"x")
        with atomic.atomic_directory(tmp_path / "1") as tmp:
            (tmp / "saved_model.pb").write_bytes(b"x")
        (tmp_path / "plain.txt").write_text("x")
        os.mkdir(tmp_path / "plain")
    assert _mode(tmp_path / "plain.txt") == file_mode and _mode(tmp_path / "plain") == dir_mode
    assert _mode(tmp_path / "a.json") == file_mode
    assert _mode(tmp_path / "b.keras") == file_mode
    assert _mode(tmp_path / "1") == dir_mode
    assert _mode(tmp_path / "1" / "saved_model.pb") == file_mode


def test_failed_writes_leave_the_old_file_and_no_temporary(tmp_path):
    atomic.write_text(tmp_path / "a.txt", "old")
    with pytest.raises(RuntimeError), atomic.atomic_path(tmp_path / "a.txt") as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    with pytest.raises(RuntimeError), atomic.atomic_directory(tmp_path / "d") as tmp:
        (tmp / "x").write_text("half")
        raise RuntimeError("killed")
    assert (tmp_path / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_a_directory_is_replaced_as_a_whole_or_not_at_all(tmp_path):
    target = tmp_path / "data"
    with atomic.atomic_directory(target) as tmp:
        (tmp / "train").write_text("old train")
        (tmp / "valid").write_text("old valid")
    with pytest.raises(FileExistsError, match="already exists"), \
            atomic.atomic_directory(target):
        pass
    with pytest.raises(RuntimeError), atomic.atomic_directory(target, replace=True) as tmp:
        (tmp / "train").write_text("new train")
        raise RuntimeError("killed while writing valid")
    assert {p.name: p.read_text() for p in target.iterdir()} == {"train": "old train",
                                                                 "valid": "old valid"}
    with atomic.atomic_directory(target, replace=True) as tmp:
        (tmp / "train").write_text("new train")
    assert {p.name: p.read_text() for p in target.iterdir()} == {"train": "new train"}
    assert atomic.leftovers(target) == [] and sorted(os.listdir(tmp_path)) == ["data"]


def test_an_existing_file_is_not_replaced_by_a_directory(tmp_path):
    (tmp_path / "data").write_text("a file")
    with pytest.raises(FileExistsError), atomic.atomic_directory(tmp_path / "data", replace=True):
        pass
    assert (tmp_path / "data").read_text() == "a file"


def test_a_file_in_the_way_of_an_output_is_named_with_the_fix(tmp_path):
    """An output path that is, or lies inside, an existing file: the error names that file
    and what to do, not "[Errno 17] File exists"; the file stays as it was."""
    (tmp_path / "out").write_text("a file")
    writes = [
        lambda: atomic.write_text(tmp_path / "out" / "results.md", "x"),
        lambda: atomic.atomic_path(tmp_path / "out" / "models" / "dcn.keras").__enter__(),
        lambda: atomic.atomic_directory(tmp_path / "out" / "1").__enter__(),
    ]
    for write in writes:
        with pytest.raises(atomic.PathBlockedError,
                           match=rf"{tmp_path / 'out'} is a file.*--out.*or move .* away"):
            write()
    with pytest.raises(atomic.PathBlockedError, match=r"a file of that name is there"):
        atomic.atomic_directory(tmp_path / "out", replace=True).__enter__()
    os.mkdir(tmp_path / "folder")
    with pytest.raises(atomic.PathBlockedError, match=r"a folder of that name is there"):
        atomic.write_text(tmp_path / "folder", "x")
    assert (tmp_path / "out").read_text() == "a file"
    assert sorted(os.listdir(tmp_path)) == ["folder", "out"]
