"""Training on two workers (``tf.distribute.MultiWorkerMirroredStrategy``, two processes on
127.0.0.1), through the package's own loop (``aigc_keras.distributed.fit``) and the command line.

Marked ``serial``: ``make test`` runs it after the parallel tests, with the benchmark tests, so
the two workers have the machine's two cores.  Every process it starts is killed and every port
freed when it ends, also when it fails.
"""

import contextlib
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from aigc_keras import callbacks, cli, distributed

pytestmark = pytest.mark.serial
ROOT = pathlib.Path(__file__).resolve().parents[1]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
TIMEOUT_S = 240


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@contextlib.contextmanager
def _processes():
    """Started processes, killed on the way out whatever happened."""
    started = []
    try:
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
            process.wait()
            for handle in process.files:
                handle.close()


def _start(started, program, *args, env=None):
    """Start a process whose output goes to files (a pipe nobody reads while waiting could fill
    and block it)."""
    import tempfile

    out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
    process = subprocess.Popen(
        [sys.executable, *program, *args],
        stdout=out,
        stderr=err,
        text=True,
        env={**ENV, **(env or {})},
        cwd=ROOT / "tests",
    )
    process.files = (out, err)
    started.append(process)
    return process


def _finish(process, timeout=TIMEOUT_S):
    process.wait(timeout=timeout)
    texts = []
    for handle in process.files:
        handle.seek(0)
        texts.append(handle.read())
        handle.close()
    return process.returncode, *texts


# --- the loop: two workers against one process with the same global batch -------------------------

# mode "single": one process, each step's batch the union of the two shards' batches; "worker":
# one of two workers, each reading its own shard; "alone": a worker whose optimizer does not
# all-reduce the gradients (the negative control).
CLASSIFIER = textwrap.dedent("""
    import contextlib, json, os, sys
    mode, out = sys.argv[1], sys.argv[2]
    from aigc_keras import distributed
    strategy = None
    if mode != "single":
        strategy = distributed.start(json.loads(os.environ["AIGC_CLUSTER"]))
    import keras, numpy as np, tensorflow as tf
    from aigc_keras import data
    from aigc_keras.models import cnn
    if mode == "alone":
        from keras.src.backend.tensorflow.optimizer import TFOptimizer
        TFOptimizer._all_reduce_sum_gradients = lambda self, grads_and_vars: grads_and_vars
    GLOBAL, STEPS = 64, 4
    keras.utils.set_random_seed(0)
    with strategy.scope() if strategy else contextlib.nullcontext():
        model = cnn.CNNClassifier(image_size=8, width=8, feature_dim=16, dropout=0.0)
        model.compile(
            optimizer=keras.optimizers.SGD(0.1),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
    def make(shard, batch):
        return data.load("digits", image_size=8, batch_size=batch, labels=True, repeat=True,
                         drop_remainder=True, seed=0, shard=shard)
    if strategy is None:
        halves = tf.data.Dataset.zip(make((0, 2), GLOBAL // 2), make((1, 2), GLOBAL // 2))
        both = halves.map(lambda a, b: (tf.concat([a[0], b[0]], 0), tf.concat([a[1], b[1]], 0)))
        model.fit(both, epochs=1, steps_per_epoch=STEPS, verbose=0)
    else:
        distributed.fit(model, make, strategy=strategy, global_batch=GLOBAL, epochs=1,
                        steps_per_epoch=STEPS, verbose=0)
    np.savez(out, *model.get_weights())
""")


def _weights(path):
    with np.load(path) as stored:
        return [stored[f"arr_{i}"] for i in range(len(stored.files))]


def _run_workers(script, outputs, *args):
    """Run ``script`` as two workers of one cluster on free local ports, worker ``i`` writing
    ``outputs[i]``; fails with a worker's stderr if one fails."""
    ports = _free_ports(2)
    workers = ",".join(f"127.0.0.1:{p}" for p in ports)
    with _processes() as started:
        for index in range(2):
            cluster = json.dumps(distributed.cluster(workers, index))
            _start(
                started, ["-c", script], *args, str(outputs[index]), env={"AIGC_CLUSTER": cluster}
            )
        for process in started:
            code, _, err = _finish(process)
            assert code == 0, err


def _two_workers(tmp_path, mode):
    outputs = [tmp_path / f"{mode}{index}.npz" for index in range(2)]
    _run_workers(CLASSIFIER, outputs, mode)
    return [_weights(path) for path in outputs]


def test_two_workers_train_the_classifier_as_one_process_with_their_global_batch(tmp_path):
    """Two workers, each reading its own shard of the digits (32 per step each): after 4 SGD
    steps both hold the same weights, bit for bit, and within 1e-3 of one process trained on the
    union of the two shards' batches (64 per step).  Measured here: 2.9e-4 at most.  Not exact:
    in one process, the gradient of the 64 images already differs from the mean of the two
    halves' gradients by 0.2% (weights) to 8% (a convolution's bias, whose terms nearly cancel),
    float32 sums taken in another order, and four steps carry it on.  Negative control: without
    the gradient all-reduce each worker learns from its own shard only, and the two workers end
    1.8e-2 apart (measured), against the 1e-3 tolerance."""
    first, second = _two_workers(tmp_path, "worker")
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    with _processes() as started:
        code, _, err = _finish(
            _start(started, ["-c", CLASSIFIER], "single", str(tmp_path / "single.npz"))
        )
    assert code == 0, err
    for a, b in zip(first, _weights(tmp_path / "single.npz"), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-3)
    apart = _two_workers(tmp_path, "alone")
    gap = max(float(np.abs(a - b).max()) for a, b in zip(*apart, strict=True))
    print(f"without the all-reduce the workers end {gap:.2e} apart")
    assert gap > 5e-3


NOISE = textwrap.dedent("""
    import json, os, sys
    from aigc_keras import distributed
    strategy = distributed.start(json.loads(os.environ["AIGC_CLUSTER"]))
    import numpy as np, tensorflow as tf
    from aigc_keras.models import gan
    with strategy.scope():
        model = gan.DCGAN(image_size=28, width=4, seed=0)
        model.compile()
    draw = tf.function(lambda: strategy.run(lambda: model.noise((64,))))
    local = [strategy.experimental_local_results(draw())[0].numpy() for _ in range(2)]
    state = model.seed_generator.state.numpy()
    np.savez(sys.argv[1], first=local[0], second=local[1], state=state)
""")


def test_each_worker_draws_its_own_noise_from_one_seed_state(tmp_path):
    """The models' noise folds in the replica id, which differs on every worker: the two workers'
    draws differ, each step's draw differs from the last, and the seed generator's state (a
    mirrored variable) is the same on both afterwards."""
    _run_workers(NOISE, [tmp_path / "noise0.npz", tmp_path / "noise1.npz"])
    with np.load(tmp_path / "noise0.npz") as a, np.load(tmp_path / "noise1.npz") as b:
        assert not np.allclose(a["first"], b["first"]) and not np.allclose(a["second"], b["second"])
        assert not np.allclose(a["first"], a["second"])
        np.testing.assert_array_equal(a["state"], b["state"])


# --- the command line: a DCGAN on two workers, a lost worker, a resume ----------------------------

# Keeps a copy of a non-chief worker's temporary folder (its checkpoints) before the run deletes it.
KEEPING = textwrap.dedent("""
    import os, shutil, sys
    from aigc_keras import cli
    remove = shutil.rmtree
    def rmtree(path, *args, **kwargs):
        if "aigc-worker" in str(path):
            shutil.copytree(path, os.environ["AIGC_KEEP"])
        return remove(path, *args, **kwargs)
    shutil.rmtree = rmtree
    sys.exit(cli.main(sys.argv[1:]))
""")

DCGAN = [
    "train", "dcgan", "--image-size", "28", "--width", "4", "--batch-size", "32",
    "--precision", "float32", "--xla", "off",
]  # fmt: skip


def _dcgan_workers(started, tmp_path, workers, *extra, keep=None, out="out"):
    processes = []
    for index in range(2):
        args = [*DCGAN, *extra, "--workers", workers, "--worker-index", str(index)]
        args += ["--out", str(tmp_path / out)]
        if index and keep:
            env = {"AIGC_KEEP": str(keep), "TMPDIR": str(tmp_path / "scratch")}
            processes.append(_start(started, ["-c", KEEPING], *args, env=env))
        else:
            env = {"TMPDIR": str(tmp_path / "scratch")} if index else {}
            processes.append(_start(started, ["-m", "aigc_keras"], *args, env=env))
    return processes


def test_the_command_line_trains_a_dcgan_on_two_workers_survives_a_lost_one_and_resumes(tmp_path):
    (tmp_path / "scratch").mkdir()
    ports = _free_ports(2)
    workers = ",".join(f"127.0.0.1:{p}" for p in ports)
    with _processes() as started:
        chief, other = _dcgan_workers(
            started, tmp_path, workers, "--steps", "6", "--epochs", "2", keep=tmp_path / "kept"
        )
        (code0, out0, err0), (code1, out1, err1) = _finish(chief), _finish(other)
    assert code0 == 0 and code1 == 0, err0 + err1
    assert "the chief" in out0 and "the chief wrote the outputs" in out1
    folder = tmp_path / "out" / "dcgan"
    written = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert written == [
        "checkpoints/ckpt-00001.npz", "checkpoints/ckpt-00002.npz", "generator.keras",
        "samples.png", "samples/samples_epoch0001.png", "samples/samples_epoch0002.png",
    ]  # fmt: skip  # the chief's files only
    assert not list((tmp_path / "scratch").glob("aigc-worker*"))  # the other worker's is gone
    # The same state on both workers, bit for bit, but for batch normalisation's moving
    # statistics: Keras' BatchNormalization (synchronized=False, its default) keeps each replica's
    # own, from its own batches, under any tf.distribute strategy; the chief's are saved.
    with (
        np.load(folder / "checkpoints" / "ckpt-00002.npz") as a,
        np.load(tmp_path / "kept" / "dcgan" / "checkpoints" / "ckpt-00002.npz") as b,
    ):
        layout = json.loads(str(a["__meta__"]))["layout"]
        paths = {f"{g}/{i:05d}": v[i][0] for g, v in layout.items() for i in range(len(v))}
        own = [key for key, path in paths.items() if "moving_" in path]
        assert 0 < len(own) < len(paths) // 4
        for key, path in paths.items():
            if key not in own:
                np.testing.assert_array_equal(a[key], b[key], err_msg=path)

    # a lost worker: the chief stops with a message naming it, never hangs
    ports = _free_ports(2)
    workers = ",".join(f"127.0.0.1:{p}" for p in ports)
    long_run = ["--steps", "20", "--epochs", "200", "--checkpoint-every", "10"]
    folder = tmp_path / "lost" / "dcgan"
    with _processes() as started:
        chief, other = _dcgan_workers(started, tmp_path, workers, *long_run, out="lost")
        deadline = time.monotonic() + TIMEOUT_S
        while not callbacks.Checkpoint(folder / "checkpoints").checkpoints():
            assert time.monotonic() < deadline and chief.poll() is None, "no checkpoint came"
            time.sleep(0.5)
        other.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        code, _, err = _finish(chief, timeout=150)
        waited = time.monotonic() - killed_at
    print(f"the chief stopped {waited:.0f} s after the other worker was killed")
    assert code == 1 and f"worker 1 (127.0.0.1:{ports[1]})" in err and waited < 120, err
    newest = callbacks.Checkpoint(folder / "checkpoints").checkpoints()[-1][0]

    # both restarted with --resume: they continue from the chief's newest checkpoint
    ports = _free_ports(2)
    workers = ",".join(f"127.0.0.1:{p}" for p in ports)
    resume = ["--steps", "20", "--epochs", str(newest[0] + 1), "--checkpoint-every", "10"]
    with _processes() as started:
        chief, other = _dcgan_workers(started, tmp_path, workers, *resume, "--resume", out="lost")
        (code0, out0, err0), (code1, out1, err1) = _finish(chief), _finish(other)
    assert code0 == 0 and code1 == 0, err0 + err1
    for out in (out0, out1):
        assert f"epoch {newest[0]}" in out and "resumed from" in out
    assert callbacks.Checkpoint(folder / "checkpoints").checkpoints()[-1][0] == (newest[0] + 1, 0)


@pytest.mark.parametrize(
    "workers, index, message",
    [
        ("127.0.0.1:2222,localhost", 0, "'localhost' is not host:port"),
        ("127.0.0.1:2222,127.0.0.1:70000", 0, "'127.0.0.1:70000' is not host:port"),
        ("127.0.0.1:2222,127.0.0.1:2222", 0, "appears twice (workers 0 and 1)"),
        ("127.0.0.1:2222,127.0.0.1:2223", 2, "--worker-index 2 is out of range"),
        ("127.0.0.1:2222", 0, "at least two"),
        ("127.0.0.1:2222,127.0.0.1:2223", None, "--workers needs --worker-index"),
    ],
)
def test_bad_worker_lists_are_refused_before_anything_is_written(
    workers, index, message, tmp_path, capsys
):
    args = [*DCGAN, "--workers", workers, "--out", str(tmp_path / "out")]
    args += [] if index is None else ["--worker-index", str(index)]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(args)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "tf_config, message",
    [  # an AttributeError traceback, a TypeError, and a chief dropped without a word
        ({"cluster": {"worker": ["127.0.0.1:2222", "127.0.0.1:2223"]}, "task": "worker"}, "object"),
        ({"cluster": {"worker": [1, 2]}, "task": {"type": "worker", "index": 0}}, "'1' is not"),
        (
            {
                "cluster": {"chief": ["127.0.0.1:2221"], "worker": ["127.0.0.1:2222"]},
                "task": {"type": "worker", "index": 0},
            },
            "TF_CONFIG's cluster lists ['chief']; aigc_keras uses only 'worker'",
        ),
    ],
)
def test_a_malformed_tf_config_is_refused_with_its_reason(tf_config, message, monkeypatch):
    monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))
    with pytest.raises(ValueError, match=re.escape(message)):
        distributed.from_environment()


def test_a_model_that_trains_on_one_machine_is_refused_by_name(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "cyclegan", "--workers", "127.0.0.1:2222,127.0.0.1:2223",
                  "--worker-index", "0", "--out", str(tmp_path / "out")])  # fmt: skip
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "cyclegan trains on one machine" in err and "dcgan" in err


def test_workers_that_disagree_on_the_model_stop_with_a_message(tmp_path):
    ports = _free_ports(2)
    workers = ",".join(f"127.0.0.1:{p}" for p in ports)
    with _processes() as started:
        processes = [
            _start(
                started,
                ["-m", "aigc_keras"],
                *DCGAN,
                "--width",
                width,
                "--steps",
                "2",
                "--epochs",
                "1",
                "--workers",
                workers,
                "--worker-index",
                str(index),
                "--out",
                str(tmp_path / "out"),
            )  # fmt: skip
            for index, width in enumerate(("4", "8"))
        ]
        results = [_finish(p) for p in processes]
    for code, _, err in results:
        assert code == 2 and "the workers disagree on the run" in err
    assert not (tmp_path / "out").exists()
