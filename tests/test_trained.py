"""``tests/trained.py``: one training per run across processes, under ``config.file_lock``."""

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
import trained
from tiny_model import TinyGAN

from aigc_keras import config

TESTS = pathlib.Path(__file__).resolve().parent

# One "worker": it says it has arrived, then asks for the shared result.  The training waits until
# every worker has arrived, so the others are certainly waiting while it trains; it appends one
# line per attempt to the log and fails on the first attempt when asked to.
WORKER = """
import json, os, pathlib, sys, time
sys.path.insert(0, sys.argv[1])
import trained
shared, workers, fail_first = pathlib.Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
(shared / f"arrived.{os.getpid()}").touch()

def train():
    with open(shared / "attempts.log", "a") as log:
        log.write(f"{os.getpid()}\\n")
    deadline = time.monotonic() + 30
    while len(list(shared.glob("arrived.*"))) < workers and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # the others are now inside once_json, waiting on the lock
    if fail_first and len((shared / "attempts.log").read_text().split()) == 1:
        raise RuntimeError("the first training fails")
    return {"trained_by": os.getpid(), "figures": [0.5, 2]}

print(json.dumps(trained.once_json("shared", train)))
"""


def _workers(tmp_path, n=2, fail_first=False):
    shared = tmp_path / "shared"
    shared.mkdir()
    env = {**os.environ, "AIGC_OUTPUT": str(tmp_path / "out")}
    command = [sys.executable, "-c", WORKER, str(TESTS), str(shared), str(n), str(int(fail_first))]
    processes = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(n)
    ]
    results = [(p.pid, *p.communicate(timeout=60), p.returncode) for p in processes]
    attempts = (shared / "attempts.log").read_text().split()
    return results, [int(pid) for pid in attempts]


def _stored(tmp_path):
    return sorted(p.name for p in (tmp_path / "out" / "trained").iterdir())


def test_two_processes_train_once_and_get_the_same_result(tmp_path):
    results, attempts = _workers(tmp_path)
    assert [rc for *_, rc in results] == [0, 0], [err for *_, err, _ in results]
    outputs = [json.loads(out) for _, out, _, _ in results]
    assert len(attempts) == 1  # one training, though both asked while the result was missing
    assert outputs[0] == outputs[1] == {"trained_by": attempts[0], "figures": [0.5, 2]}
    assert attempts[0] in [pid for pid, *_ in results]
    assert _stored(tmp_path) == ["shared.json", "shared.json.lock"]


def test_a_failed_training_raises_there_stores_nothing_and_the_waiting_process_trains(tmp_path):
    results, attempts = _workers(tmp_path, fail_first=True)
    by_pid = {pid: (out, err, rc) for pid, out, err, rc in results}
    failed, succeeded = attempts  # two attempts: the first failed, the second (the other) trained
    assert failed != succeeded
    out, err, rc = by_pid[failed]
    assert rc != 0 and "RuntimeError: the first training fails" in err and not out
    out, err, rc = by_pid[succeeded]
    assert rc == 0, err
    assert json.loads(out) == {"trained_by": succeeded, "figures": [0.5, 2]}
    assert _stored(tmp_path) == ["shared.json", "shared.json.lock"]


def test_a_failed_save_leaves_no_partial_file_and_the_next_call_retries(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_OUTPUT", str(tmp_path / "out"))
    calls = []

    def train():
        calls.append(1)
        return {"value": np.float32(1.5), "array": np.arange(2)}

    def broken_save(result, path):
        path.write_text("half a file")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        trained.once("result", train, save=broken_save, load=lambda path: None, suffix=".json")
    assert sorted(p.name for p in trained.folder().iterdir()) == ["result.json.lock"]
    with pytest.raises(ZeroDivisionError):
        trained.once_json("result", lambda: 1 / 0)
    assert sorted(p.name for p in trained.folder().iterdir()) == ["result.json.lock"]
    assert trained.once_json("result", train) == {"value": 1.5, "array": [0, 1]}
    assert trained.once_json("result", lambda: pytest.fail("trained twice")) == {
        "value": 1.5,
        "array": [0, 1],
    }
    assert len(calls) == 2  # the broken save's attempt and the one stored


def test_a_killed_run_s_temporary_file_is_removed_by_the_next_training(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_OUTPUT", str(tmp_path / "out"))
    leftover = trained.folder() / ".result.12345.tmp.json"
    other = trained.folder() / ".result.more.12345.tmp.json"  # another name's: kept
    leftover.write_text("{")
    other.write_text("{")
    assert trained.once_json("result", lambda: [1]) == [1]
    assert not leftover.exists() and other.exists()


def _compiled_tiny_gan():
    model = TinyGAN()
    model.compile()
    return model


def test_once_model_stores_the_full_state_of_a_package_model(tmp_path, monkeypatch, digits8):
    monkeypatch.setenv("AIGC_OUTPUT", str(tmp_path / "out"))
    models = []

    def train():
        keras.utils.set_random_seed(0)
        model = _compiled_tiny_gan()
        batches = tf.data.Dataset.from_tensor_slices(digits8.images[:64]).batch(32)
        model.fit(batches, epochs=1, verbose=0, shuffle=False)
        models.append(model)
        return model

    keras.utils.set_random_seed(1)  # the fresh model's weights differ from the trained one's
    first = trained.once_model("tiny_gan", train, _compiled_tiny_gan)
    again = lambda: pytest.fail("trained twice")  # noqa: E731
    second = trained.once_model("tiny_gan", again, _compiled_tiny_gan)
    (original,) = models
    assert first is not original and int(first.steps_done.numpy()) == 2
    for model in (first, second):
        for a, b in zip(original.variables, model.variables, strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
        for name in original.optimizer_names:
            for a, b in zip(
                original.optimizers[name].variables, model.optimizers[name].variables, strict=True
            ):
                np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
        np.testing.assert_array_equal(model.generate(4, seed=3), original.generate(4, seed=3))
    assert _stored(tmp_path) == ["tiny_gan.model", "tiny_gan.model.lock"]


def test_once_model_stores_the_weights_of_another_keras_model(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_OUTPUT", str(tmp_path / "out"))

    def build():
        return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])

    trained_model = build()
    loaded = trained.once_model("dense", lambda: trained_model, build)
    assert loaded is not trained_model
    for a, b in zip(trained_model.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_names_are_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_OUTPUT", str(tmp_path / "out"))
    for name in ("", "../x", "a/b", ".hidden", "a*"):
        with pytest.raises(ValueError, match="name must be"):
            trained.once_json(name, lambda: 1)


def test_file_lock_without_fcntl_runs_the_block_unlocked(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "fcntl", None)
    with config.file_lock(tmp_path / "new" / "x.lock") as path:
        assert path == tmp_path / "new" / "x.lock" and path.parent.is_dir()


# --- the order the files start in (tests/file_schedule.py) ---------------------------------------


def test_the_files_start_in_the_planned_order(monkeypatch):
    """FIRST leads; the files that read the MNIST-M judges come after LATER_BY others even when
    their seconds would put them earlier; every file the timing table names exists."""
    import file_schedule as plan

    root = TESTS.parent
    paths = [p.relative_to(root).as_posix() for p in sorted(TESTS.glob("test_*.py"))]
    paths += [p.relative_to(root).as_posix() for p in sorted(root.glob("notebooks/*.ipynb"))]
    assert set(plan.FILE_SECONDS) <= set(paths), set(plan.FILE_SECONDS) - set(paths)
    order = plan.file_order(paths)
    assert sorted(order) == sorted(paths)
    assert tuple(order[: len(plan.FIRST)]) == plan.FIRST
    for path in plan.AFTER_JUDGES:
        assert order.index(path) >= len(plan.FIRST) + plan.LATER_BY, (path, order)
    # with the judged files first among the rest, they are still moved back
    seconds = {**plan.FILE_SECONDS, **{p: 10_000 for p in plan.AFTER_JUDGES}}
    monkeypatch.setattr(plan, "FILE_SECONDS", seconds)
    moved = plan.file_order(paths)
    start = len(plan.FIRST) + plan.LATER_BY
    assert sorted(moved[start : start + 2]) == sorted(plan.AFTER_JUDGES)
    others = [p for p in moved[len(plan.FIRST) :] if p not in plan.AFTER_JUDGES]
    assert [seconds.get(p, 0) for p in others] == sorted(
        (seconds.get(p, 0) for p in others), reverse=True
    )


# --- the extended tests on a slow machine (tests/file_schedule.py) -------------------------------


def test_the_extended_tests_are_skipped_only_below_the_reference_or_when_asked():
    import file_schedule as plan

    assert plan.skip_extended(None, 461) == ""  # no probe: run them
    assert plan.skip_extended(461, 461) == "" and plan.skip_extended(900.0, 461) == ""
    why = plan.skip_extended(213.4, 461)
    assert "213 images/s" in why and "461" in why and "AIGC_EXTENDED=1" in why
    assert plan.skip_extended(213.4, 461, "1") == ""
    assert plan.skip_extended(900.0, 461, " 0 ") == "AIGC_EXTENDED=0"
    assert plan.skip_extended(900.0, 461, "") == ""
    for bad in ("yes", "2", "true"):
        with pytest.raises(ValueError, match="AIGC_EXTENDED=.*use 1 .* 0 "):
            plan.skip_extended(900.0, 461, bad)
    # the long tests: only below 300 images/s, with the same settings
    assert plan.skip_long(None) == "" and plan.skip_long(300) == "" and plan.skip_long(900.0) == ""
    why = plan.skip_long(299.6)
    assert "300 images/s" in why and "below 300" in why and "AIGC_EXTENDED=1" in why
    assert plan.skip_long(219.4, "1") == "" and plan.skip_long(900.0, "0") == "AIGC_EXTENDED=0"
    with pytest.raises(ValueError, match="AIGC_EXTENDED="):
        plan.skip_long(219.4, "yes")


def test_aigc_extended_0_skips_every_extended_test_and_only_those():
    """A plain pytest run (no probe) with AIGC_EXTENDED=0 and ``-m "extended or long"`` on three
    files that hold two extended tests and three long ones: all five are skipped, each with its
    reason, and nothing passes; a setting other than 0 or 1 stops the run with the accepted
    values."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("AIGC_PROJECT_TIME", "AIGC_SKIP_EXTENDED")
    }
    env["AIGC_EXTENDED"] = "0"
    files = ["tests/test_cyclegan_ablation.py", "tests/test_vae.py", "tests/test_gan_demo.py"]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs"]
        + ["-m", "extended or long"]
        + files,
        cwd=TESTS.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "5 skipped" in run.stdout and "passed" not in run.stdout, run.stdout[-2000:]
    assert run.stdout.count("extended test skipped: AIGC_EXTENDED=0") == 2, run.stdout[-2000:]
    assert run.stdout.count("long test skipped: AIGC_EXTENDED=0") == 3, run.stdout[-2000:]
    env["AIGC_EXTENDED"] = "maybe"
    refused = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--collect-only"]
        + files[:1],
        cwd=TESTS.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert refused.returncode != 0 and "AIGC_EXTENDED='maybe'" in refused.stdout + refused.stderr


# --- the notebooks' second runs in the test-time section (tests/file_schedule.py) -----------------


def test_worker_seconds_sums_every_phase_of_the_marked_tests_only():
    import types

    import file_schedule as plan

    def report(when, duration, *keywords):
        return types.SimpleNamespace(when=when, duration=duration, keywords=dict.fromkeys(keywords))

    reports = [
        report("setup", 0.5, "Cell 1"),
        report("call", 2.0, "Cell 1"),
        report("teardown", 0.25, "Cell 1"),
        report("setup", 0.125, "Cell 1 (run 2)", plan.SECOND_RUN),
        report("call", 1.5, "Cell 1 (run 2)", plan.SECOND_RUN),
        report("teardown", 0.0625, "Cell 1 (run 2)", plan.SECOND_RUN),
        types.SimpleNamespace(duration=9.0, keywords={plan.SECOND_RUN: 1}),  # no phase: left out
        "a warning report",
    ]
    assert plan.worker_seconds(reports) == 2.75 + 1.6875
    assert plan.worker_seconds(reports, plan.SECOND_RUN) == 1.6875
    assert plan.worker_seconds(reports, "extended") == 0
    assert plan.worker_seconds([]) == 0


def test_the_second_run_items_and_only_those_carry_the_marker():
    """What the test-time section counts: ``-m second_run`` collects a notebook's fresh kernel and
    every code cell again (names ending " (run 2)"), and ``-m "not second_run"`` its first run."""
    import file_schedule as plan

    notebook = "notebooks/00_introduction.ipynb"
    cells = sum(
        cell["cell_type"] == "code"
        for cell in json.loads((TESTS.parent / notebook).read_text(encoding="utf-8"))["cells"]
    )

    def collected(expression):
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
            + ["-m", expression, notebook, "--nbval-lax"],
            cwd=TESTS.parent,
            capture_output=True,
            text=True,
            timeout=300,
        )
        return [line for line in run.stdout.splitlines() if line.startswith(notebook + "::")]

    again = collected(plan.SECOND_RUN)
    assert len(again) == cells + 1 and all(n.endswith(" (run 2)") for n in again), again
    assert any("fresh kernel" in n for n in again), again
    first = collected("not " + plan.SECOND_RUN)
    assert len(first) == cells and not any("(run 2)" in n for n in first), first
