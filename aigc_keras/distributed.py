"""Training on several machines: ``tf.distribute.MultiWorkerMirroredStrategy`` driving the
models' own ``train_step``.

Keras 3.15's ``fit`` does not run under ``MultiWorkerMirroredStrategy`` in TensorFlow 2.21 (two
local workers both fail inside ``fit`` with "Attempt to convert a value (PerReplica...)",
keras-team/keras issue 20585).  :func:`fit` is the loop that replaces it there: a compiled step
that runs the model's ``train_step`` on every worker's batch (``strategy.run``; the optimizers
all-reduce the gradients) and averages the logs, with the same callbacks ``fit`` would call
(checkpoints, sample grids, the NaN guard, the data order), in the same order.

Each worker runs the same command.  ``--batch-size`` is the global batch, split evenly across the
workers; each worker reads its own shard of the data (every ``n``-th image from its index) as a
stream, so a resumed run continues where each shard stopped; the models' noise folds in the
replica id, which is global across workers.  Only the chief (worker 0) writes into the output
folder; the others write their checkpoints and pictures into temporary folders, as TensorFlow's
documentation prescribes, and delete them at the end.  Resuming reads the chief's checkpoint on
every worker, so the output folder must be one every worker can read (the same machine, or a
shared file system).
"""

from __future__ import annotations

import hashlib
import json
import os
import re

import keras
import numpy as np

from . import order
from .validation import check_int

COLLECTIVE_TIMEOUT_S = 60  # an all-reduce waiting longer for a peer fails instead of hanging
# A backstop: a training step that has not finished after this long is taken for a lost worker
# and a watchdog ends the process with a message naming the others.  A killed peer was reported
# by TensorFlow itself (UnavailableError) within 2 s here; the watchdog covers a peer that stops
# answering without closing its connections, which was not reproduced here.  A step that is
# legitimately longer (a very large model on a slow machine) would be stopped by it too.
STEP_TIMEOUT_S = 60


def parse_workers(text: str) -> list[str]:
    """The worker addresses of ``--workers``: ``host:port`` entries separated by commas.

    Args:
        text: e.g. ``"10.0.0.1:12345,10.0.0.2:12345"`` or ``"127.0.0.1:2222,127.0.0.1:2223"``.

    Returns:
        The addresses, in order (worker 0, the chief, first).

    Raises:
        ValueError: an entry is not ``host:port`` with a port in 1..65535, fewer than two workers
            are given, or an address appears twice.
    """
    entries = [entry.strip() for entry in str(text).split(",")]
    for entry in entries:
        match = re.fullmatch(r"([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\]):(\d{1,5})", entry)
        if not match or not 1 <= int(match.group(2)) <= 65535:
            raise ValueError(
                f"worker address {entry!r} is not host:port (a host name or IP address, a colon, "
                "a port from 1 to 65535), e.g. 127.0.0.1:2222."
            )
    if len(entries) < 2:
        raise ValueError(
            "--workers lists every worker of the run, at least two (one machine trains without it)."
        )
    seen = {}
    for i, entry in enumerate(entries):
        if entry in seen:
            raise ValueError(
                f"worker address {entry} appears twice (workers {seen[entry]} and {i}): each "
                "worker needs its own host:port."
            )
        seen[entry] = i
    return entries


def cluster(workers, index) -> dict:
    """The ``TF_CONFIG`` of worker ``index`` in a cluster of ``workers``.

    Args:
        workers: addresses from :func:`parse_workers` (or its text).
        index: this worker's index, from 0 (the chief) to ``len(workers) - 1``.

    Returns:
        ``{"cluster": {"worker": [...]}, "task": {"type": "worker", "index": index}}``.
    """
    if not isinstance(workers, str):  # a list was taken unchecked
        workers = ",".join(str(worker) for worker in workers)
    workers = parse_workers(workers)
    if index is None:
        raise ValueError(
            "--workers needs --worker-index, this worker's place in the list (0 first)."
        )
    index = check_int(index, "worker index", minimum=0)
    if index >= len(workers):
        raise ValueError(
            f"--worker-index {index} is out of range: {len(workers)} workers are listed, so it "
            f"is 0 to {len(workers) - 1}."
        )
    return {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}


def from_environment() -> dict | None:
    """The ``TF_CONFIG`` environment variable, checked, or ``None`` when it is not set."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        return None
    try:
        spec = json.loads(text)
        workers, task = spec["cluster"]["worker"], spec["task"]
        if not isinstance(task, dict) or not isinstance(workers, list):
            raise TypeError("the task must be an object and the workers a list")
        others = sorted(set(spec["cluster"]) - {"worker"})
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(
            'TF_CONFIG should be JSON like {"cluster": {"worker": ["host:port", ...]}, '
            f'"task": {{"type": "worker", "index": 0}}}}; reading it failed: {error}'
        ) from None
    if task.get("type") != "worker":
        raise ValueError(f"TF_CONFIG's task type is {task.get('type')!r}; only 'worker' is used.")
    if others:  # a "chief" entry was dropped without a word
        raise ValueError(
            f"TF_CONFIG's cluster lists {others}; aigc_keras uses only 'worker' (worker 0 is the "
            "chief): list every machine under 'worker'."
        )
    return cluster(workers, task.get("index"))


def start(config: dict):
    """Make the strategy of the cluster ``config`` (:func:`cluster`); call it before anything else
    uses TensorFlow (the collective operations are set up when TensorFlow starts).

    Returns:
        The ``MultiWorkerMirroredStrategy``; it waits until every worker has started.
    """
    import tensorflow as tf

    os.environ["TF_CONFIG"] = json.dumps(config)
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=COLLECTIVE_TIMEOUT_S)
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


def is_chief(strategy) -> bool:
    """Whether this process is worker 0 (the one that writes into the output folder)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    return resolver is None or not resolver.task_id


def workers_of(strategy) -> list[str]:
    """The addresses of the strategy's workers, in index order."""
    return list(strategy.cluster_resolver.cluster_spec().as_dict().get("worker", []))


def _all_reduce_sum(strategy, values):
    import tensorflow as tf

    @tf.function
    def reduce():
        local = strategy.run(lambda: tf.constant(values, tf.int64))
        return strategy.reduce("SUM", local, axis=None)

    return reduce().numpy()


def check_same_run(strategy, description: dict) -> None:
    """Raise ``ValueError`` on every worker unless all of them describe the same run.

    The description's hash, as eight 16-bit numbers ``x``, is summed over the workers with its
    squares: ``n * sum(x**2) == sum(x)**2`` holds exactly when every worker has the same ``x``.

    Args:
        strategy: the cluster's strategy.
        description: what must agree (model, its configuration, the data, the steps ...).
    """
    text = json.dumps(description, sort_keys=True, default=str)
    words = np.frombuffer(hashlib.sha256(text.encode()).digest()[:16], np.uint16)
    words = words.astype(np.int64)
    total = _all_reduce_sum(strategy, np.concatenate([words, words**2]))
    n = strategy.num_replicas_in_sync
    if not np.array_equal(n * total[8:], total[:8] ** 2):
        raise ValueError(
            "the workers disagree on the run: each must be started with the same model, options, "
            f"data and steps (this worker: {text})."
        )


def lost_worker_message(strategy, error=None) -> str:
    """A one-line message for a training step that failed or stalled because a peer went away:
    the worker named in the error, else every other worker."""
    workers = workers_of(strategy)
    own = strategy.cluster_resolver.task_id
    found = re.findall(r"task:(\d+)", str(error or ""))
    lost = sorted({int(i) for i in found if int(i) != own and int(i) < len(workers)})
    lost = lost or [i for i in range(len(workers)) if i != own]
    who = ", ".join(f"worker {i} ({workers[i]})" for i in lost)
    why = type(error).__name__ if error is not None else f"no step finished in {STEP_TIMEOUT_S} s"
    return (
        f"lost contact with {'one of ' if len(lost) > 1 else ''}{who} ({why}). Training "
        "stopped; restart every worker with --resume to continue from the chief's last "
        "checkpoint."
    )


class _Watchdog:
    """Ends the process with :func:`lost_worker_message` when a step runs past
    ``STEP_TIMEOUT_S`` (``os._exit``: a thread blocked in a collective cannot be interrupted)."""

    def __init__(self, strategy):
        import threading

        self.strategy, self.started = strategy, None
        self.lock = threading.Lock()
        threading.Thread(target=self._watch, daemon=True).start()

    def __enter__(self):
        import time

        with self.lock:
            self.started = time.monotonic()

    def __exit__(self, *exc):
        with self.lock:
            self.started = None

    def _watch(self):
        import sys
        import time

        while True:
            time.sleep(1.0)
            with self.lock:
                stalled = self.started is not None and (
                    time.monotonic() - self.started > STEP_TIMEOUT_S
                )
            if stalled:
                sys.stdout.flush()
                sys.stderr.write(f"aigc-keras: error: {lost_worker_message(self.strategy)}\n")
                sys.stderr.flush()
                os._exit(1)


def fit(
    model,
    make_dataset,
    *,
    strategy,
    global_batch: int,
    epochs: int,
    steps_per_epoch: int,
    initial_epoch: int = 0,
    callbacks=(),
    verbose: int = 2,
):
    """Train ``model`` with its own ``train_step`` under a multi-worker ``strategy``.

    Args:
        model: a compiled package model, built and compiled inside ``strategy.scope()``.
        make_dataset: ``make_dataset(shard, batch_size)`` returns this worker's repeating
            pipeline (``data.load(..., repeat=True, shard=shard)``), batches of ``batch_size``.
        strategy: the ``MultiWorkerMirroredStrategy`` (:func:`start`).
        global_batch: the batch of one step over all workers, a multiple of their number.
        epochs: the epoch to end after.
        steps_per_epoch: steps (global batches) per epoch.
        initial_epoch: the epoch to start from (a resumed run's).
        callbacks: Keras callbacks, called as ``fit`` calls them; the package's NaN guard and
            data order are added as the models' ``fit`` adds them, and a checkpoint restored in
            the middle of an epoch continues that epoch.
        verbose: Keras' ``fit`` verbosity (2: one line per epoch).

    Returns:
        The ``keras.callbacks.History`` of the run.

    Raises:
        ConnectionError: a worker went away (the message names it).
    """
    import tensorflow as tf

    from .models.base import package_callbacks, resume_offset

    replicas = strategy.num_replicas_in_sync
    check_int(global_batch, "global batch")
    if global_batch % replicas:
        raise ValueError(
            f"the batch of {global_batch} does not split evenly across {replicas} workers; pass "
            f"a --batch-size that is a multiple of {replicas} (it is the global batch)."
        )
    states = []

    def dataset_fn(context):
        shard = (context.input_pipeline_id, context.num_input_pipelines)
        dataset = make_dataset(shard, context.get_per_replica_batch_size(global_batch))
        states.extend(order.of(dataset))
        return dataset

    options = tf.distribute.InputOptions(experimental_fetch_to_device=False)
    distributed = strategy.distribute_datasets_from_function(dataset_fn, options)
    callbacks = package_callbacks(list(callbacks), states)
    done = resume_offset(callbacks, initial_epoch, epochs, steps_per_epoch, stream=True)
    for callback in callbacks:
        if hasattr(callback, "place"):
            callback.place(steps_per_epoch, done)
    history = keras.callbacks.History()
    callback_list = keras.callbacks.CallbackList(
        callbacks + [history],
        add_progbar=verbose != 0,
        model=model,
        verbose=verbose,
        epochs=epochs,
        steps=steps_per_epoch,
    )

    @tf.function
    def one_step(iterator):
        logs = strategy.run(model.train_step, args=(next(iterator),))
        return {name: strategy.reduce("MEAN", value, axis=None) for name, value in logs.items()}

    failures = (
        tf.errors.UnavailableError,
        tf.errors.DeadlineExceededError,
        tf.errors.CancelledError,
        tf.errors.AbortedError,
    )
    iterator = None
    watchdog = _Watchdog(strategy)
    model.stop_training = False
    try:
        callback_list.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            model.reset_metrics()
            callback_list.on_epoch_begin(epoch)
            if iterator is None:  # after the data order is placed
                iterator = iter(distributed)
            logs = {}
            for batch in range(steps_per_epoch - done):
                callback_list.on_train_batch_begin(batch)
                with watchdog:
                    logs = {name: float(value) for name, value in one_step(iterator).items()}
                callback_list.on_train_batch_end(batch, logs)
            done = 0
            for callback in callbacks:
                if hasattr(callback, "place"):
                    callback.place(steps_per_epoch, 0)
            callback_list.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
        callback_list.on_train_end(logs if initial_epoch < epochs else {})
    except failures as error:
        raise ConnectionError(lost_worker_message(strategy, error)) from None
    return history
