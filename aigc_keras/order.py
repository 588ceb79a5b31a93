"""The order of a shuffled training pipeline, kept across a resume.

A shuffled pipeline from :func:`aigc_keras.data.load` draws the order of each pass over its
data from ``(seed, epoch, pass within the epoch)``.  It carries a :class:`DataOrder`: the state
that says which epoch and pass come next.  The package models' ``fit`` finds it on the dataset
and adds a :class:`DataOrderCallback`, which moves the state to each epoch's start; so a run
resumed at epoch ``k`` (``initial_epoch=k``) sees the order a run that never stopped saw in
epoch ``k``, and no two epochs or passes share an order.

The state is a small integer vector (epoch, pass), so it can later also hold the position
inside a pass.  Nothing here is process-global: each pipeline owns its state.
"""

from __future__ import annotations

import keras

from .validation import check_int

ATTRIBUTE = "_aigc_data_order"  # where a pipeline carries its DataOrder
PASSES_PER_EPOCH = 100_000  # room in a key for the passes one epoch may make (repeat=True)


class DataOrder:
    """Which epoch and which pass within it a shuffled pipeline gives next.

    Args:
        seed: the pipeline's shuffling seed.
    """

    def __init__(self, seed: int = 0):
        import tensorflow as tf

        self.seed = check_int(seed, "seed", minimum=0)
        with tf.init_scope():  # a plain variable, even when made inside a traced function
            self.state = tf.Variable([0, 0], dtype=tf.int64, trainable=False, name="data_order")

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass the first of epoch ``epoch``.

        Args:
            epoch: a non-negative integer.
        """
        self.state.assign([check_int(epoch, "epoch", minimum=0), 0])

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

        step = tf.constant([0, 1], tf.int64)
        before = self.state.assign_add(step) - step
        return before[0] * PASSES_PER_EPOCH + before[1]


def of(dataset) -> tuple:
    """The :class:`DataOrder` states a dataset carries (one per shuffled stream; empty if none).

    Args:
        dataset: any object; a shuffled pipeline from ``data.load`` carries one, an unpaired one
            from ``data.load_unpaired`` one per domain.
    """
    return tuple(getattr(dataset, ATTRIBUTE, ()))


def attach(dataset, *orders: DataOrder):
    """Attach ``orders`` to ``dataset`` (the object returned to the user) and return the dataset.

    Args:
        dataset: the pipeline.
        *orders: its states.
    """
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


class DataOrderCallback(keras.callbacks.Callback):
    """Moves a pipeline's :class:`DataOrder` states to the start of each epoch ``fit`` begins.

    Args:
        orders: the pipeline's states (:func:`of`).
    """

    def __init__(self, orders):
        super().__init__()
        self.orders = tuple(orders)

    def on_epoch_begin(self, epoch, logs=None):
        for state in self.orders:
            state.set_epoch(epoch)
