import io

from dcn_keras import progress


def test_a_log_gets_lines_at_tenths_and_at_the_end(monkeypatch):
    stream = io.StringIO()  # not a terminal
    monkeypatch.setattr("sys.stderr", stream)
    monkeypatch.setattr(progress, "QUIET_SECONDS", 0.0)
    assert list(progress.bar(range(20), 20, "build", "images")) == list(range(20))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10 and lines[0].startswith("build: 2/20 images (")
    assert lines[-1].startswith("build: 20/20 images")


def test_quick_work_logs_its_end_only_and_keras_logs_epochs(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    list(progress.bar(range(5), 8, "score", "batches", done=3))
    assert stream.getvalue().splitlines() == [stream.getvalue().splitlines()[-1]]
    assert stream.getvalue().startswith("score: 8/8 batches")
    monkeypatch.setattr("sys.stdout", io.StringIO())
    assert progress.keras_verbosity("auto") == 2 and progress.keras_verbosity(0) == 0
