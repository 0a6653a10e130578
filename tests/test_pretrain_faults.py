"""Faults of resumable pretraining: crashes mid-save, locks, damaged folders, bad settings.

Every test here reproduces a defect of the audit in issue 13 that the run
folder, the lock and :class:`PretrainError` now handle.
"""

import errno
import importlib
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
import torch
from _tiny import TINY_TSPULSE
from safetensors.torch import load_file, save_file

from sslts.models import TSPulse, TSPulseConfig
from sslts.pretrained import CheckpointError, load_checkpoint, save_checkpoint
from sslts.training import PretrainError, pretrain
from sslts.training.pretrain import _OutputLock

# The module (``sslts.training.pretrain`` the attribute is the function).
pretrain_module = importlib.import_module("sslts.training.pretrain")

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: The functions through which every byte of a checkpoint reaches the disk.
WRITERS = ("write", "fsync", "replace", "mkdir")


def _run(output, **kwargs):
    """Two blocks of one step: two run-folder saves and three publications."""
    kwargs = {
        "config": TSPulseConfig(**TINY_TSPULSE),
        "data": "kernelsynth",
        "steps": 2,
        "batch_size": 4,
        "checkpoint_every": 1,
        "verbose": False,
        **kwargs,
    }
    return pretrain(output, **kwargs)


def _state(run_folder):
    current = (run_folder / "CURRENT").read_text().strip()
    return json.loads((run_folder / current / "state.json").read_text())


class _DiskFull:
    """Counts the calls of :data:`WRITERS`; the ``fail_at``-th raises ENOSPC.

    ``failed`` names the function that failed. A failing ``mkdir`` of a
    folder that exists is absorbed by ``Path.mkdir(exist_ok=True)``.
    """

    def __init__(self, monkeypatch, fail_at=None):
        self.calls, self.fail_at, self.failed = 0, fail_at, None
        for name in WRITERS:
            monkeypatch.setattr(os, name, self._failing(name, getattr(os, name)))

    def _failing(self, name, function):
        def call(*args, **kwargs):
            self.calls += 1
            if self.calls == self.fail_at:
                self.failed = name
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return function(*args, **kwargs)

        return call

    def absorbed(self):
        """The fault hit the ``mkdir`` of an existing folder, which is harmless."""
        return self.failed == "mkdir"


@pytest.fixture
def fast_plot(monkeypatch):
    """The loss plot as a few bytes (matplotlib would take most of each run's time)."""
    monkeypatch.setattr(
        pretrain_module,
        "_plot_losses",
        lambda history, path: pretrain_module._write_atomic(path, b"png"),
    )


def _assert_same_weights(a, b):
    a, b = load_file(a), load_file(b)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


# ------------------------------------------------------------ crash consistency
@pytest.mark.slow  # about 75 failing runs and their reruns (a minute)
def test_a_disk_full_at_any_write_resumes_to_the_uninterrupted_weights(
    tmp_path, monkeypatch, fast_plot
):
    reference = _run(tmp_path / "reference").checkpoint
    with monkeypatch.context() as patch:
        counter = _DiskFull(patch)
        _run(tmp_path / "counted")
    assert counter.calls > 40  # lock, probe, two saves, three publications, plot
    for k in range(1, counter.calls + 1):
        output = tmp_path / f"fail{k}"
        with monkeypatch.context() as patch:
            fault = _DiskFull(patch, fail_at=k)
            try:
                _run(output)
            except PretrainError as error:
                message = str(error)
                assert message.startswith("disk full while writing"), (k, message)
                assert str(tmp_path) in message, (k, message)
                assert "run the same command again" in message, (k, message)
            else:
                assert fault.absorbed(), k
        rerun = _run(output)
        assert rerun.finished and rerun.steps == 2, k
        _assert_same_weights(reference, rerun.checkpoint)
        load_checkpoint(rerun.checkpoint)  # card and weights agree
        leftovers = [p.name for p in (tmp_path / f"fail{k}.run").iterdir()]
        checkpoints = [n for n in leftovers if n.startswith("step-")]
        assert len(checkpoints) == 1, (k, leftovers)  # older ones and partial ones gone
        assert set(leftovers) - set(checkpoints) <= {"CURRENT", "lock"}, (k, leftovers)
        hidden = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
        assert hidden == [], (k, hidden)  # no temporary or probe file left behind


def test_a_save_failing_before_the_switch_keeps_state_and_weights_together(
    tmp_path, monkeypatch
):
    first = _run(tmp_path / "m", max_minutes=0.0)  # stops after block 1 of 2
    assert first.steps == 1
    real_replace = os.replace

    def replace(source, destination, **kwargs):
        if os.path.basename(destination) == "CURRENT":  # block 2 is complete by now
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_replace(source, destination, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(PretrainError, match="disk full while writing .*CURRENT"):
        _run(tmp_path / "m")
    # The state still says step 1, and the weights beside it are those of step 1.
    assert _state(tmp_path / "m.run")["step"] == 1
    _assert_same_weights(
        first.checkpoint, _current(tmp_path / "m.run") / "model.safetensors"
    )


def test_the_published_checkpoint_is_old_or_new_never_torn(tmp_path, monkeypatch):
    """Fail each write of ``save_checkpoint``: the card is never empty or torn."""
    old, new = (TSPulse(TSPulseConfig(**TINY_TSPULSE)) for _ in range(2))
    with monkeypatch.context() as patch:
        counter = _DiskFull(patch)
        save_checkpoint(old, tmp_path / "count")
    for k in range(1, counter.calls + 1):
        stem = tmp_path / f"c{k}"
        save_checkpoint(old, stem, description="old")
        with monkeypatch.context() as patch:
            fault = _DiskFull(patch, fail_at=k)
            try:
                save_checkpoint(new, stem, description="new")
            except OSError as error:
                assert error.filename.startswith(str(stem)), k  # names the file
            else:
                assert fault.absorbed(), k
        assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
        card = json.loads(stem.with_suffix(".json").read_text())  # never empty or torn
        try:
            assert load_checkpoint(stem).card["description"] == card["description"]
        except CheckpointError as exc:  # new weights, old card: refused, not misread
            assert card["description"] == "old" and "corrupt or was replaced" in str(
                exc
            )


# ------------------------------------------------------------ the lock
def test_a_second_call_while_the_output_is_locked_names_the_holder(tmp_path):
    output = tmp_path / "m"
    (tmp_path / "m.run").mkdir()
    lock = _OutputLock(tmp_path / "m.run", output, "sslts pretrain --output m")
    with lock, pytest.raises(PretrainError) as error:
        _run(output)
    message = str(error.value)
    assert f"{output} is being trained by another process" in message
    assert f"pid {os.getpid()}" in message and "sslts pretrain --output m" in message
    assert not (tmp_path / "m.safetensors").exists()


@pytest.mark.slow  # a subprocess importing sslts (several seconds)
def test_a_lock_held_by_another_process_refuses_and_a_killed_holder_does_not(tmp_path):
    output = tmp_path / "m"
    (tmp_path / "m.run").mkdir()
    holder = textwrap.dedent(
        f"""
        import pathlib, time
        from sslts.training.pretrain import _OutputLock
        with _OutputLock(pathlib.Path({str(tmp_path / "m.run")!r}),
                         pathlib.Path({str(output)!r}), "the holder"):
            print("locked", flush=True)
            time.sleep(600)
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout.readline().strip() == "locked"
        with pytest.raises(PretrainError, match=f"pid {process.pid} .*the holder"):
            _run(output)
    finally:
        process.kill()  # SIGKILL: the holder cannot clean up
        process.wait()
    assert (tmp_path / "m.run" / "lock.json").exists()  # stale holder information
    assert _run(output).finished


def test_two_seeds_into_one_output_name_the_setting(tmp_path):
    _run(tmp_path / "m", seed=0)
    with pytest.raises(PretrainError) as error:
        _run(tmp_path / "m", seed=1, lr=0.5)
    message = str(error.value)
    assert "seed: 0 in the run, 1 now" in message
    assert "data.seed: 0 in the run, 1 now" in message
    assert "lr: 0.001 in the run, 0.5 now" in message
    assert "batch_size" not in message


# ------------------------------------------------------------ output folder
def _read_only(monkeypatch, folder):
    """Writes under ``folder`` fail as on a read-only file system (chmod stops no root)."""
    real_open, real_mkdir = os.open, os.mkdir

    def inside(path):
        return os.fspath(path).startswith(str(folder))

    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT

    def open_(path, flags, *args, **kwargs):
        if inside(path) and flags & writing:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args, **kwargs)

    def mkdir(path, *args, **kwargs):
        if inside(path):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_)
    monkeypatch.setattr(os, "mkdir", mkdir)


def _no_training(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(pretrain_module, "_make_net", fail)


def test_a_read_only_output_folder_is_refused_before_training(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    _read_only(monkeypatch, folder)
    _no_training(monkeypatch)
    with pytest.raises(PretrainError) as error:
        _run(folder / "m")
    message = str(error.value)
    assert message.startswith(f"cannot write {folder}")
    assert "Read-only file system" in message and "choose another output" in message


def test_an_output_folder_that_cannot_be_created_is_refused_before_training(
    tmp_path, monkeypatch
):
    (tmp_path / "file").write_text("not a folder")
    _no_training(monkeypatch)
    with pytest.raises(PretrainError) as error:
        _run(tmp_path / "file" / "m")
    assert str(error.value).startswith(f"cannot write {tmp_path / 'file'}")


def test_a_missing_output_folder_is_created(tmp_path, fast_plot):
    assert _run(tmp_path / "new" / "deeper" / "m").finished


# ------------------------------------------------------------ damaged run folders
@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory):
    """A run folder stopped after block 1 of 2, to be copied and damaged."""
    folder = tmp_path_factory.mktemp("stopped")
    with torch.random.fork_rng():
        _run(folder / "m", max_minutes=0.0)
    return folder


def _current(run_folder):
    return run_folder / (run_folder / "CURRENT").read_text().strip()


def _edit_state(run_folder, **changes):
    file = _current(run_folder) / "state.json"
    state = json.loads(file.read_text())
    state.update(changes)
    file.write_text(json.dumps(state))


def _foreign_model(run_folder):
    """Another architecture's weights, with the digest updated to match."""
    other = TSPulse(TSPulseConfig(**{**TINY_TSPULSE, "d_model": 16}))
    file = _current(run_folder) / "model.safetensors"
    save_file(dict(other.state_dict()), file)
    _fix_digest(run_folder, "model.safetensors")


def _fix_digest(run_folder, name):
    import hashlib

    file = _current(run_folder) / "state.json"
    state = json.loads(file.read_text())
    state["files"][name] = hashlib.sha256((file.parent / name).read_bytes()).hexdigest()
    file.write_text(json.dumps(state))


def _garbage_optimizer(run_folder):
    (_current(run_folder) / "optimizer.pt").write_bytes(b"not a torch file")
    _fix_digest(run_folder, "optimizer.pt")


def _as_file(run_folder):
    shutil.rmtree(run_folder)
    run_folder.write_text("a file")


def _to_legacy(run_folder):
    """The flat layout of earlier versions: no CURRENT, no digests."""
    current = _current(run_folder)
    state = json.loads((current / "state.json").read_text())
    del state["files"]
    (run_folder / "state.json").write_text(json.dumps(state))
    for name in ("optimizer.pt", "model.safetensors"):
        shutil.copy(current / name, run_folder / name)
    shutil.rmtree(current)
    (run_folder / "CURRENT").unlink()


def _legacy_garbage(run_folder):
    _to_legacy(run_folder)
    (run_folder / "model.safetensors").write_bytes(b"\x00" * 64)


@pytest.mark.parametrize(
    "damage, file, problem",
    [
        (
            lambda r: (r / "CURRENT").write_text("elsewhere"),
            "CURRENT",
            "names 'elsewhere'",
        ),
        (
            lambda r: (_current(r) / "state.json").write_text("{"),
            "state.json",
            "not a readable JSON state",
        ),
        (lambda r: _edit_state(r, step="1"), "state.json", "step must be"),
        (lambda r: _edit_state(r, step=999), "state.json", "step 999 exceeds"),
        (lambda r: _edit_state(r, plan=[]), "state.json", "no plan"),
        (
            lambda r: (_current(r) / "model.safetensors").write_bytes(b"junk"),
            "model.safetensors",
            "digest differs",
        ),
        (_foreign_model, "model.safetensors", "not this run's model"),
        (_garbage_optimizer, "optimizer.pt", "not this run's optimiser state"),
        (_as_file, "m.run", "a file, not a folder"),
        (_legacy_garbage, "model.safetensors", "not this run's model"),
    ],
    ids=[
        "pointer",
        "json",
        "step-type",
        "step-too-large",
        "plan",
        "digest",
        "foreign-model",
        "optimizer",
        "not-a-folder",
        "legacy-layout",
    ],
)
def test_a_damaged_run_folder_names_the_file_and_what_to_do(
    tmp_path, stopped_run, damage, file, problem
):
    shutil.copytree(stopped_run, tmp_path, dirs_exist_ok=True)
    damage(tmp_path / "m.run")
    with pytest.raises(PretrainError) as error:
        _run(tmp_path / "m")
    message = str(error.value)
    assert f"run folder {tmp_path / 'm.run'} is damaged" in message
    assert file in message and problem in message
    assert f"delete {tmp_path / 'm.run'} and rerun with overwrite=True" in message


def test_a_legacy_run_folder_resumes_and_is_converted(tmp_path, stopped_run, fast_plot):
    """Run folders written before versioned checkpoints still resume."""
    shutil.copytree(stopped_run, tmp_path, dirs_exist_ok=True)
    run = tmp_path / "m.run"
    _to_legacy(run)
    result = _run(tmp_path / "m")
    assert result.finished and result.steps == 2
    assert [h["step"] for h in _state(run)["history"]] == [1, 2]
    assert not (run / "state.json").exists()


# ------------------------------------------------------------ settings and length
def test_a_finished_run_is_extended_by_more_steps(tmp_path, fast_plot):
    _run(tmp_path / "m")
    longer = _run(tmp_path / "m", steps=3)
    assert longer.finished and longer.steps == 3
    training = load_checkpoint(tmp_path / "m").card["training"]
    assert training["total_steps"] == 3 and training["steps"] == 3
    assert training["extensions"] == [
        {"at_step": 2, "total_steps_before": 2, "total_steps": 3}
    ]
    assert [h["step"] for h in _state(tmp_path / "m.run")["history"]] == [1, 2, 3]
    with pytest.raises(PretrainError, match="total_steps: 3 in the run, 2 now"):
        _run(tmp_path / "m")


def test_an_unfinished_run_is_extended_by_more_samples(tmp_path, fast_plot):
    _run(tmp_path / "m", max_minutes=0.0)
    result = _run(tmp_path / "m", steps=None, n_samples=12)  # 3 steps of 4
    assert result.finished and result.steps == 3
    assert result.card["training"]["extensions"][0]["at_step"] == 1


def test_another_runs_checkpoint_is_not_overwritten_silently(
    tmp_path, tiny_model, fast_plot
):
    save_checkpoint(tiny_model, tmp_path / "m", description="someone else's")
    with pytest.raises(PretrainError) as error:
        _run(tmp_path / "m")
    message = str(error.value)
    assert f"{tmp_path / 'm.safetensors'} already exists" in message
    assert "overwrite=True (--overwrite)" in message
    assert not (tmp_path / "m.run").exists()
    assert load_checkpoint(tmp_path / "m").card["description"] == "someone else's"
    assert _run(tmp_path / "m", overwrite=True).finished
    assert _run(tmp_path / "m").finished  # its own run folder accounts for it now
