"""The order of a shuffled training pipeline, kept across a resume.

A shuffled pipeline from :func:`aigc_keras.data.load` carries a :class:`DataOrder`, the state
that says where its data continue.  The package models' ``fit`` finds it on the dataset and adds
a :class:`DataOrderCallback`, which moves the state before the data are read.  Two kinds:

* **One pass per epoch** (``repeat=False``): each pass draws its order from ``(seed, epoch,
  pass within the epoch)``; the callback moves the state to each epoch's start, so a run resumed
  at epoch ``k`` (``initial_epoch=k``) sees the order a run that never stopped saw in epoch ``k``.
* **A stream** (``repeat=True``, trained with ``steps_per_epoch``): passes 0, 1, 2, ... follow each
  other whatever the epochs, pass ``p`` in the order drawn from ``(seed, p)``.  The callback puts
  the stream at the batch the run starts from (``initial_epoch * steps_per_epoch`` plus the batches
  done in a checkpoint written in the middle of an epoch), so a resumed run reads the batches a run
  that never stopped read, also when it stopped in the middle of a pass.

The state is read when an iterator over the pipeline starts, never while it runs ahead
(prefetching cannot change it).  Nothing here is process-global: each pipeline owns its state.
"""

from __future__ import annotations

import keras

from .validation import check_int, check_seed

ATTRIBUTE = "_aigc_data_order"  # where a pipeline carries its DataOrder
PASSES_PER_EPOCH = 100_000  # room in a key for the passes one epoch may make (repeat=True)


class DataOrder:
    """Where a shuffled pipeline's data continue: ``(epoch, pass, elements to skip)``.

    Args:
        seed: the pipeline's shuffling seed.
        stream: ``True`` for a repeating pipeline (passes follow each other across epochs; the
            position can be any element of any pass), ``False`` for one pass per epoch.
        size: elements in one pass, when known (a stream then jumps straight to a pass; unknown,
            it reads through the passes before).
    """

    def __init__(self, seed: int = 0, *, stream: bool = False, size: int | None = None):
        import tensorflow as tf

        self.seed = check_seed(seed)
        self.stream = bool(stream)
        self.size = None if size is None or size < 0 else check_int(size, "size")
        self.batch_size = 1  # elements per batch of the pipeline it belongs to (attach sets it)
        with tf.init_scope():  # a plain variable, even when made inside a traced function
            self.state = tf.Variable([0, 0, 0], dtype=tf.int64, trainable=False, name="data_order")

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass the first of epoch ``epoch`` (one pass per epoch only).

        Args:
            epoch: a non-negative integer.
        """
        if self.stream:
            raise ValueError(
                "a repeating pipeline is a stream of passes, not one pass per epoch: place it "
                "with seek(batches) (the package models' fit does)."
            )
        self.state.assign([check_int(epoch, "epoch", minimum=0), 0, 0])

    def seek(self, batches: int) -> None:
        """Make a stream continue after its first ``batches`` batches (a stream only).

        Args:
            batches: batches read since the stream's start, a non-negative integer.
        """
        if not self.stream:
            raise ValueError(
                "seek() places a repeating pipeline (repeat=True); a pipeline of one pass per "
                "epoch starts each epoch with set_epoch(epoch)."
            )
        elements = check_int(batches, "batches", minimum=0) * self.batch_size
        if self.size:
            self.state.assign([0, elements // self.size, elements % self.size])
        else:
            self.state.assign([0, 0, elements])

    @property
    def epoch(self) -> int:
        """The epoch the next pass belongs to."""
        return int(self.state[0].numpy())

    def next_key(self):
        """The next pass's key ``epoch * PASSES_PER_EPOCH + pass`` (a tensor), counting the pass.

        For use inside ``tf.data``: the pipeline shuffles with a seed made from its own seed and
        this key.
        """
        import tensorflow as tf

        step = tf.constant([0, 1, 0], tf.int64)
        before = self.state.assign_add(step) - step
        return before[0] * PASSES_PER_EPOCH + before[1]

    def start(self):
        """A stream's first pass and the elements of it to skip, two tensors, read once when an
        iterator starts (for use inside ``tf.data``)."""
        value = self.state.read_value()
        return value[1], value[2]


def of(dataset) -> tuple:
    """The :class:`DataOrder` states a dataset carries (one per shuffled stream; empty if none).

    Args:
        dataset: any object; a shuffled pipeline from ``data.load`` carries one, an unpaired one
            from ``data.load_unpaired`` one per domain.
    """
    return tuple(getattr(dataset, ATTRIBUTE, ()))


def prefetched(dataset):
    """A pipeline's last step: prefetch batches, with tf.data's autotuning switched off.

    With autotuning on (tf.data's default), a Keras ``fit`` over the pipeline often did not return
    when its last step ended (``evaluate`` and ``predict`` make their iterators the same way; only
    ``fit`` was measured): it waited for the autotuner's background
    thread, which wakes 10 ms, 20 ms, 40 ms, ... after the iterator was made (each wait twice the
    last, at most a minute apart).  Measured on a 2-core CPU with TensorFlow 2.21 (2026-12-06): a
    DCGAN ``fit`` of 180 steps trained for 12 s and returned after 20.48 s, four times out of four
    (11.1-11.6 s with autotuning off); fits of 50 steps, about 3.3 s, returned after 5.12 s in
    three runs of eight.  The data are the same either way (the same classifier accuracy after five
    epochs) and the steps were no slower (without it the pipelines still deliver hundreds of batches
    a second), so the package's pipelines switch it off.  A ``tf.data`` pipeline of your own: end it
    with ``data.prefetched(dataset)`` (the same function) or expect the wait.

    Args:
        dataset: a ``tf.data.Dataset``.

    Returns:
        The dataset with ``prefetch(AUTOTUNE)`` appended and autotuning off (``AUTOTUNE`` values
        then take tf.data's defaults).
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(options)


def attach(dataset, *orders: DataOrder, batch_size: int | None = None):
    """Attach ``orders`` to ``dataset`` (the object returned to the user) and return the dataset.

    Args:
        dataset: the pipeline.
        *orders: its states.
        batch_size: elements per batch of ``dataset`` (``None``: unbatched); a stream counts its
            position in batches of this size.
    """
    for state in orders:
        state.batch_size = 1 if batch_size is None else check_int(batch_size, "batch_size")
    setattr(dataset, ATTRIBUTE, tuple(orders))
    return dataset


def set_epoch(dataset, epoch: int) -> None:
    """Make the next pass of ``dataset`` the first of epoch ``epoch`` (what ``fit`` does itself).

    Args:
        dataset: a pipeline carrying :class:`DataOrder` states.
        epoch: a non-negative integer.
    """
    states = of(dataset)
    if not states:
        raise ValueError(
            "this dataset carries no data order: only shuffled pipelines from "
            "aigc_keras.data.load or load_unpaired do."
        )
    for state in states:
        state.set_epoch(epoch)


def seek(dataset, batches: int) -> None:
    """Make a repeating pipeline continue after its first ``batches`` batches (what ``fit`` does
    itself when it starts).

    Args:
        dataset: a repeating pipeline (``repeat=True``) carrying :class:`DataOrder` states.
        batches: batches read since the stream's start, a non-negative integer.
    """
    states = of(dataset)
    if not states:
        raise ValueError(
            "this dataset carries no data order: only shuffled pipelines from "
            "aigc_keras.data.load, load_paired or load_unpaired do."
        )
    for state in states:
        state.seek(batches)


def is_stream(dataset) -> bool:
    """Whether ``dataset`` is a repeating pipeline whose position a run can keep (every one of
    its :class:`DataOrder` states is a stream)."""
    states = of(dataset)
    return bool(states) and all(state.stream for state in states)


class DataOrderCallback(keras.callbacks.Callback):
    """Puts a pipeline's :class:`DataOrder` states where each epoch ``fit`` begins reads from.

    One pass per epoch: the state moves to the epoch's first pass.  A stream: the first epoch of
    the ``fit`` call puts it at batch ``epoch * steps_per_epoch + offset``; later epochs continue
    the stream (Keras keeps one iterator when ``steps_per_epoch`` is given).

    Args:
        orders: the pipeline's states (:func:`of`).
    """

    def __init__(self, orders):
        super().__init__()
        self.orders = tuple(orders)
        self.steps_per_epoch: int | None = None  # the run's, when fit splits an epoch
        self.offset = 0  # batches of the first epoch already done (a mid-epoch resume)
        self._placed = False

    def place(self, steps_per_epoch: int | None, offset: int) -> None:
        """Set the run's steps per epoch and the batches of its first epoch already done (the
        package models' ``fit`` calls it when it resumes a run in the middle of an epoch)."""
        self.steps_per_epoch, self.offset = steps_per_epoch, offset

    def on_train_begin(self, logs=None):
        self._placed = False

    def on_epoch_begin(self, epoch, logs=None):
        for state in self.orders:
            if not state.stream:
                state.set_epoch(epoch)
            elif not self._placed:
                steps = self.steps_per_epoch or self.params.get("steps")
                if epoch and not steps:
                    raise ValueError(
                        "a repeating pipeline needs steps_per_epoch, so that epoch "
                        f"{epoch} starts at a known batch of its stream."
                    )
                state.seek(epoch * (steps or 0) + self.offset)
        self._placed = True
