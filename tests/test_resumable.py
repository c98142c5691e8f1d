import numpy as np

from dcn_keras import resumable


def test_saved_marks_start_from_what_a_killed_run_saved(tmp_path):
    path = tmp_path / "marks.npz"
    first = resumable.SavedMarks(path, (2, 5))
    first.record([0, 3], [[True, False], [True, True]])
    again = resumable.SavedMarks(path, (2, 5))
    assert again.values.tolist() == [[True, False, False, False, False],
                                     [True, False, False, True, False]]
    assert not again.pending([0, 3]) and again.pending([0, 1])


def test_saved_marks_of_another_shape_or_a_broken_file_start_over(tmp_path, capsys):
    path = tmp_path / "marks.npz"
    resumable.SavedMarks(path, (2, 5)).record([1], [[True], [True]])
    assert not resumable.SavedMarks(path, (3, 5)).values.any()
    path.write_bytes(b"not a zip")
    fresh = resumable.SavedMarks(path, (2, 5))
    assert fresh.pending([1]) and "Starting over" in capsys.readouterr().out


def test_in_memory_marks_write_nothing(tmp_path):
    marks = resumable.SavedMarks(None, (1, 3))
    marks.record([2], [[True]])
    assert marks.values.tolist() == [[False, False, True]] and not list(tmp_path.iterdir())


def test_digest_changes_with_any_array_or_setting():
    weights = np.arange(6, dtype=np.float32)
    base = resumable.digest(weights, (6, "confidence"))
    assert base == resumable.digest(weights.copy(), (6, "confidence"))
    assert base != resumable.digest(weights + 1e-6, (6, "confidence"))
    assert base != resumable.digest(weights.reshape(2, 3), (6, "confidence"))
    assert base != resumable.digest(weights, (3, "confidence"))
