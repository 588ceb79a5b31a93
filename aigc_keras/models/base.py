"""The shared training core of every generative model in the package.

A chapter model subclasses :class:`GenerativeModel`, builds its functional
sub-models in ``__init__``, names its optimizers and trackers, and writes its own
``train_step`` with the helpers here:

* ``self.noise(shape)`` draws from the model's ``keras.random.SeedGenerator`` with
  the replica id folded into the seed, so replicas of a ``MirroredStrategy`` draw
  *different* noise (Keras 3.15 gives every replica the same draw,
  keras-team/keras #20611).
* ``compile(optimizers={...})`` builds every optimizer on its variables inside the
  strategy scope (an unbuilt extra optimizer fails under ``MirroredStrategy`` and
  its state is silently skipped on reload) and wraps them in
  ``LossScaleOptimizer`` under ``mixed_float16``.
* ``self.scale_loss(name, loss)`` (inside the tape: the scaling must be recorded) and
  ``self.descend(name, tape, scaled_loss, variables)`` do loss scaling, the per-replica
  loss division and the optimizer step; ``self.as_compute(x)`` casts real images to the compute
  dtype; ``self.record(**losses)`` updates the trackers and the step counter.
* ``save_checkpoint`` / ``load_checkpoint``: the package's own full-state
  checkpoint (every model variable, including seed-generator state, EMA weights and
  image pools kept as variables; every optimizer's state; counters), written
  atomically. Keras' ``BackupAndRestore`` keeps only ``model.optimizer`` and no seed
  state, so it cannot resume a multi-optimizer model.
* ``generate(n, *, labels=None, seed=None, **options)``: the common sampling API.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import pathlib
import warnings
import zipfile

import keras
import numpy as np
import tensorflow as tf

from .. import __version__, hardware, order
from ..validation import check_int, check_seed

CHECKPOINT_FORMAT = 1
METADATA_NAME = "aigc_keras.json"  # the record inside an exported .keras archive
METADATA_FORMAT = 1


def save_atomically(model: keras.Model, path, metadata: dict | None = None) -> pathlib.Path:
    """Save ``model`` as a ``.keras`` file under a temporary name, then rename it into place.

    A killed run leaves no half-written file.  ``metadata`` (the record the package's commands
    dispatch on) is stored as one JSON entry inside the same archive: one file to copy, which
    Keras' safe-mode loading reads as usual and :func:`read_metadata` reads without loading it.

    Args:
        model: the Keras model to save.
        path: the ``.keras`` file to write.
        metadata: a JSON-serialisable dict; the package's version and the record's format are
            added to it.

    Returns:
        The path written.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.keras")
    model.save(tmp)
    if metadata is not None:
        record = {"format": METADATA_FORMAT, "package_version": __version__, **metadata}
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.writestr(METADATA_NAME, json.dumps(record, indent=1, default=str))
    os.replace(tmp, path)
    return path


def read_metadata(path) -> dict | None:
    """The metadata record of an exported ``.keras`` file, without loading the network.

    Args:
        path: a ``.keras`` file.

    Returns:
        The record (a dict), or ``None`` for a file without one (written by Keras itself or by
        this package before version 0.2).
    """
    path = pathlib.Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            if METADATA_NAME not in archive.namelist():
                return None
            return json.loads(archive.read(METADATA_NAME).decode("utf-8"))
    except zipfile.BadZipFile:
        raise ValueError(f"{str(path)!r} is not a .keras file (not a zip archive).") from None


_BUILDING: list = []  # the models whose __init__ is running (a super().__init__ finds itself here)


def _under_own_precision(init):
    """Wrap a model's ``__init__`` so the model is built under its own dtype policy and Keras'
    global policy is restored afterwards (:func:`aigc_keras.hardware.building`)."""

    @functools.wraps(init)
    def wrapper(self, *args, **kwargs):
        if any(model is self for model in _BUILDING):  # an inner __init__ of the same model
            return init(self, *args, **kwargs)
        _BUILDING.append(self)
        try:
            with hardware.building(type(self)):
                return init(self, *args, **kwargs)
        finally:
            _BUILDING.pop()

    # Keras reads the constructor's arguments with inspect.getfullargspec, which does not follow
    # functools.wraps; the signature it honours is this one.
    wrapper.__signature__ = inspect.signature(init)
    return wrapper


LIKELY_CAUSES = (
    "a learning rate too high for this model or batch size (try a tenth of it); "
    "float16 overflow under mixed_float16 (the loss scaler skips overflowing steps, "
    "but a loss computed in float16 can still overflow: try mixed_bfloat16 or float32); "
    "NaN or infinite values in the training images"
)


def _non_finite(value: np.ndarray) -> bool:
    """Whether a floating-point array holds a NaN or an infinity (other dtypes never do)."""
    return value.dtype.kind == "f" and not np.all(np.isfinite(value))


class NonFiniteGuard(keras.callbacks.Callback):
    """Stop training at the first step whose logs hold a NaN or an infinite loss.

    Every ``fit()`` of the package's models adds one (unless one is given).  It raises
    ``FloatingPointError`` naming the loss, the step and the likely causes (what to do); it raises
    before the epoch ends, so no checkpoint is written from the broken weights and the newest one
    on disk is the last good state.  At each epoch's end it also checks the weights themselves (a
    NaN can hide behind finite losses).  Under ``mixed_float16`` it also warns, once per
    optimizer, when a dynamic loss scale has collapsed below 1 (every step overflowed: gradients
    are being thrown away).  It takes no arguments.
    """

    def __init__(self):
        super().__init__()
        self._warned = set()

    def on_train_batch_end(self, batch, logs=None):
        """Raise ``FloatingPointError`` when this batch's logs hold a NaN or an infinite loss.

        Args:
            batch: the index of the batch within the epoch (from 0).
            logs: the metric values Keras reports for the batch (name -> scalar).
        """
        bad = {}
        for name, value in (logs or {}).items():
            array = np.ravel(
                keras.ops.convert_to_numpy(value) if not isinstance(value, (int, float)) else value
            )
            if array.dtype.kind != "f":
                continue
            # NaN is never a legitimate value; an infinite loss is a failure, an infinite PSNR
            # (a perfect batch) is not.
            broken = np.isnan(array) | (np.isinf(array) if "loss" in name else False)
            if broken.any():
                bad[name] = float(array[np.argmax(broken)])
        if bad:
            model = self.model
            step = (
                model._steps_done()
                if hasattr(model, "_steps_done")
                else int(model.optimizer.iterations.numpy())
            )
            losses = ", ".join(f"{name!r} = {value}" for name, value in bad.items())
            scales = self._loss_scales()
            scale_note = (
                ("; loss scales now " + ", ".join(f"{n}: {v:g}" for n, v in scales.items()))
                if scales
                else ""
            )
            raise FloatingPointError(
                f"training stopped at step {step} (batch {batch + 1} of this epoch): "
                f"{losses} is not finite{scale_note}. Likely causes: {LIKELY_CAUSES}. "
                "Nothing was saved from this step: a checkpoint already on disk holds the "
                "last good state; resume from it after changing the cause."
            )

    def _loss_scales(self) -> dict:
        optimizers = (
            self.model._named_optimizers() if hasattr(self.model, "_named_optimizers") else {}
        )
        return {
            name: float(opt.dynamic_scale.numpy())
            for name, opt in optimizers.items()
            if isinstance(opt, keras.optimizers.LossScaleOptimizer)
        }

    def on_epoch_end(self, epoch, logs=None):
        """Raise when a weight is not finite; warn once per optimizer about a collapsed loss scale.

        Args:
            epoch: the index of the epoch that ended (from 0).
            logs: the epoch's metric values (unused).
        """
        # Finite losses do not prove finite weights: on an AVX-512 CPU here, TensorFlow's fused
        # MatMul+BiasAdd+Relu kernel (graph mode) turns a NaN into 0, so a discriminator fed the
        # NaN images of a broken generator still gave finite logits and losses.  Once an epoch,
        # look at the weights themselves.
        for variable in self.model.trainable_variables:
            if _non_finite(keras.ops.convert_to_numpy(variable.value)):
                raise FloatingPointError(
                    f"training stopped at the end of epoch {epoch + 1}: {variable.path} holds "
                    f"NaN or infinite values although the losses stayed finite. Likely causes: "
                    f"{LIKELY_CAUSES}. Nothing was saved from these weights: a checkpoint "
                    "already on disk holds the last good state."
                )
        for name, scale in self._loss_scales().items():
            if scale < 1.0 and name not in self._warned:
                self._warned.add(name)
                warnings.warn(
                    f"the float16 loss scale of optimizer {name!r} has collapsed to {scale:g} "
                    "(it starts at 32768 and halves at every overflowing step): its gradients "
                    "overflow float16 at nearly every step and are being skipped. Train with "
                    "mixed_bfloat16 or float32, or lower the learning rate.",
                    RuntimeWarning,
                    stacklevel=2,
                )


def package_callbacks(callbacks: list, states) -> list:
    """``callbacks`` with the package's own added: a :class:`NonFiniteGuard` first unless one is
    among them, and a :class:`~aigc_keras.order.DataOrderCallback` second for the data order
    ``states`` (a shuffled pipeline's) unless one is among them."""
    callbacks = list(callbacks)
    if not any(isinstance(c, NonFiniteGuard) for c in callbacks):
        callbacks.insert(0, NonFiniteGuard())  # first: it speaks before a checkpoint refuses
    if states and not any(isinstance(c, order.DataOrderCallback) for c in callbacks):
        callbacks.insert(1, order.DataOrderCallback(states))
    return callbacks


def resume_offset(callbacks, start: int, epochs: int, steps: int | None, *, stream: bool) -> int:
    """The batches of epoch ``start`` a restored checkpoint already trained (0: none), checked.

    A :class:`~aigc_keras.callbacks.Checkpoint` that restored a checkpoint written in the middle
    of an epoch holds ``resume_point = (epoch, batch)``; it is used once, when ``fit`` starts at
    that epoch.  Checkpoints inside epochs (``every_steps``) and such a resume need a stream (a
    repeating pipeline of the package) and ``steps_per_epoch``.

    Raises:
        ValueError: what is missing for a checkpoint inside an epoch, or a resume with other
            steps per epoch than the run's.
    """
    if any(getattr(c, "every_steps", None) for c in callbacks) and not (steps and stream):
        raise ValueError(
            "checkpoints inside an epoch (every_steps, --checkpoint-every) need a repeating "
            "pipeline of the package (data.load(..., repeat=True)) and steps_per_epoch, so "
            "that a position inside an epoch means the same batches after a resume."
        )
    done = 0
    for c in callbacks:
        point = getattr(c, "resume_point", None)
        if point is not None and point[0] == start:
            done = max(done, point[1])
        if point is not None:
            c.resume_point = None  # used once
    if not done or start >= epochs:
        return 0
    if not steps or not stream:
        raise ValueError(
            f"the checkpoint was written after {done} batches of epoch {start + 1}; to "
            "continue that epoch where it stopped, train on a repeating pipeline of the "
            "package (data.load(..., repeat=True)) with the run's steps_per_epoch."
        )
    if done >= steps:
        raise ValueError(
            f"the checkpoint was written after {done} batches of epoch {start + 1}, but "
            f"steps_per_epoch is {steps}: resume with the run's own steps_per_epoch."
        )
    return done


class Checkpointable:
    """The package's full-state checkpoint, for any ``keras.Model`` that names its state.

    A subclass provides ``_named_optimizers()`` (name -> optimizer; empty before ``compile``),
    ``_state_variables()`` (group name -> variables, optimizer state included), ``_steps_done()``
    and ``get_config()`` (compared on load, so a checkpoint never loads into another
    configuration).  Its ``fit`` adds a :class:`NonFiniteGuard`, first among the callbacks, unless
    one is among them, and, for a shuffled pipeline of the package, a
    :class:`~aigc_keras.order.DataOrderCallback` (each epoch in its own order, also after a
    resume).  A subclass is built under its own dtype policy; Keras' global policy is left as it
    was.  The mixin has no constructor arguments of its own.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _under_own_precision(cls.__dict__["__init__"])

    def fit(self, x=None, *args, callbacks=None, **kwargs):
        """Keras' ``fit`` with the package's callbacks added, resuming in the middle of an epoch.

        Args:
            x: the training data, as ``keras.Model.fit`` takes it (a ``tf.data.Dataset`` from
                ``aigc_keras.data``, arrays, ...).
            *args: further positional arguments of ``keras.Model.fit``.
            callbacks: Keras callbacks; a :class:`NonFiniteGuard` is put first unless one is
                among them, and a :class:`~aigc_keras.order.DataOrderCallback` second for a
                shuffled pipeline of the package unless one is among them.  When a
                :class:`~aigc_keras.callbacks.Checkpoint` among them restored a checkpoint
                written in the middle of epoch ``initial_epoch``, that epoch trains only its
                remaining batches (Keras starts epochs at their first batch, so this ``fit``
                makes two Keras calls: the rest of that epoch, then the epochs after it; the
                history holds both).
            **kwargs: further keyword arguments of ``keras.Model.fit`` (``epochs``, ...).

        Returns:
            The ``keras.callbacks.History`` of the run.

        Raises:
            ValueError: a mid-epoch resume without ``steps_per_epoch`` or without a repeating
                pipeline of the package (its data could not continue where they stopped).
        """
        states = order.of(x)
        callbacks = package_callbacks(list(callbacks or []), states)
        if isinstance(x, tf.data.Dataset):
            # a pipeline shuffles itself: Keras ignores shuffle=True for one, with a warning
            kwargs.setdefault("shuffle", False)
        # callbacks that count batches across a split epoch (DataOrderCallback, Checkpoint)
        placed = [c for c in callbacks if hasattr(c, "place")]
        steps = kwargs.get("steps_per_epoch")
        start, epochs = kwargs.get("initial_epoch", 0), kwargs.get("epochs", 1)
        done = resume_offset(callbacks, start, epochs, steps, stream=order.is_stream(x))
        for c in placed:
            c.place(steps, 0)
        if not done:
            return super().fit(x, *args, callbacks=callbacks, **kwargs)
        for c in placed:
            c.place(steps, done)
        rest = dict(kwargs, epochs=start + 1, steps_per_epoch=steps - done)
        history = super().fit(x, *args, callbacks=callbacks, **rest)
        for c in placed:
            c.place(steps, 0)
        if epochs > start + 1:
            later = super().fit(
                x, *args, callbacks=callbacks, **dict(kwargs, initial_epoch=start + 1)
            )
            for key, values in later.history.items():
                history.history.setdefault(key, []).extend(values)
            history.epoch += later.epoch
        return history

    def save_checkpoint(
        self, path, *, epoch: int | None = None, extra: dict | None = None
    ) -> pathlib.Path:
        """Write the full training state to ``path`` (``.npz``), atomically.

        Every variable of the model (weights, seed-generator states, EMA weights, image pools),
        every optimizer's state and the step counter are stored with the model's configuration
        and a layout that :meth:`load_checkpoint` checks.  The file is written under a temporary
        name and renamed into place, so a killed run never leaves a half-written checkpoint.

        Args:
            path: the ``.npz`` file to write; missing parent folders are created.
            epoch: the number of epochs done, kept in the metadata (``None``: not recorded).
            extra: a JSON-serialisable dict kept as the metadata's ``"extra"`` entry.

        Returns:
            The path written, a ``pathlib.Path``.

        Raises:
            RuntimeError: the model is not compiled (its optimizers do not exist yet).
            FloatingPointError: a variable holds NaN or infinite values; nothing is written.
        """
        if not self._named_optimizers():
            raise RuntimeError(
                "compile() the model before saving a checkpoint, so its optimizers exist."
            )
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays, layout = {}, {}
        for group, variables in self._state_variables().items():
            layout[group] = [[v.path, list(v.shape), str(v.dtype)] for v in variables]
            for i, variable in enumerate(variables):
                value = keras.ops.convert_to_numpy(variable.value)
                if _non_finite(value):
                    raise FloatingPointError(
                        f"refusing to write a checkpoint: {variable.path} holds NaN or infinite "
                        f"values (any checkpoint already on disk is untouched). "
                        f"Likely causes: {LIKELY_CAUSES}."
                    )
                arrays[f"{group}/{i:05d}"] = value
        meta = {
            "format": CHECKPOINT_FORMAT,
            "class": type(self).__name__,
            "config": self.get_config(),
            "epoch": epoch,
            "steps": self._steps_done(),
            "precision": self.dtype_policy.name,
            "layout": layout,
            "extra": extra or {},
        }
        arrays["__meta__"] = np.array(json.dumps(meta, default=str))
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        return path

    def load_checkpoint(self, path) -> dict:
        """Restore the full training state written by :meth:`save_checkpoint`; returns its metadata.

        The checkpoint must come from the same class with the same ``get_config()`` and a
        compatible precision policy (``float32`` and ``mixed_bfloat16`` resume across each other,
        ``mixed_float16`` only from ``mixed_float16``).  Every variable's count and shape is
        checked before any is assigned, so a mismatch leaves the model untouched.

        Args:
            path: an ``.npz`` file written by :meth:`save_checkpoint`.

        Returns:
            The checkpoint's metadata, a dict with ``"format"``, ``"class"``, ``"config"``,
            ``"epoch"``, ``"steps"``, ``"precision"``, ``"layout"`` and ``"extra"``.

        Raises:
            RuntimeError: the model is not compiled (its optimizers do not exist yet).
            FileNotFoundError: there is no file at ``path``.
            ValueError: the file is not a checkpoint of this class, configuration and precision.
        """
        if not self._named_optimizers():
            raise RuntimeError(
                "compile() the model before loading a checkpoint, so its optimizers exist."
            )
        path = pathlib.Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no checkpoint at {str(path)!r}.")
        with np.load(path, allow_pickle=False) as stored:
            if "__meta__" not in stored.files:
                raise ValueError(f"{str(path)!r} is not an aigc_keras checkpoint (no metadata).")
            meta = json.loads(str(stored["__meta__"]))
            if meta.get("class") != type(self).__name__:
                raise ValueError(
                    f"checkpoint {str(path)!r} holds a {meta.get('class')}, "
                    f"not a {type(self).__name__}."
                )
            own_config = json.loads(json.dumps(self.get_config(), default=str))
            if meta.get("config") != own_config:
                diff = {
                    k: (meta["config"].get(k), own_config.get(k))
                    for k in set(meta["config"]) | set(own_config)
                    if meta["config"].get(k) != own_config.get(k)
                }
                raise ValueError(
                    f"checkpoint {str(path)!r} was written by a model of another configuration: "
                    + ", ".join(
                        f"{k}: checkpoint {a!r} vs model {b!r}"
                        for k, (a, b) in sorted(diff.items())
                    )
                )
            own_precision, stored_precision = (
                self.dtype_policy.name,
                meta.get("precision", self.dtype_policy.name),
            )
            if (own_precision == "mixed_float16") != (stored_precision == "mixed_float16"):
                # float32 and mixed_bfloat16 hold the same float32 variables and resume across
                # each other; mixed_float16's loss-scaling optimizers keep state of their own.
                raise ValueError(
                    f"checkpoint {str(path)!r} was written under the {stored_precision} "
                    f"precision policy and this model is {own_precision} (the float16 loss "
                    f"scaler keeps state of its own); build the model after "
                    f"hardware.set_precision({stored_precision!r}) "
                    f"(command line: --precision {stored_precision})."
                )
            groups = self._state_variables()
            for group, variables in groups.items():
                stored_layout = meta["layout"].get(group)
                if stored_layout is None or len(stored_layout) != len(variables):
                    raise ValueError(
                        f"checkpoint {str(path)!r} does not match this model: {group} has "
                        f"{len(variables)} variables here and "
                        f"{0 if stored_layout is None else len(stored_layout)} stored."
                    )
                for i, variable in enumerate(variables):
                    value = stored[f"{group}/{i:05d}"]
                    if tuple(value.shape) != tuple(variable.shape):
                        raise ValueError(
                            f"checkpoint {str(path)!r} does not match this model: "
                            f"{variable.path} has shape {tuple(variable.shape)} here and "
                            f"{tuple(value.shape)} stored ({stored_layout[i][0]})."
                        )
            for group, variables in groups.items():
                for i, variable in enumerate(variables):
                    variable.assign(stored[f"{group}/{i:05d}"])
        return meta


class GenerativeModel(Checkpointable, keras.Model):
    """Base class: trackers, optimizers, per-replica noise, dtype and checkpoints.

    Subclasses set ``optimizer_names``, implement ``optimizer_variables(name)``,
    ``default_optimizers()``, ``call()``, ``train_step()`` and, for sampling,
    ``latent_shape`` and ``sample_from_latents(latents, labels, **options)``.

    Args:
        trackers: the names of the ``keras.metrics.Mean`` trackers that :meth:`record` updates
            and ``fit`` reports (``"d_loss"``, ``"g_loss"``, ...).
        seed: a non-negative int, the seed of the model's ``keras.random.SeedGenerator`` (every
            noise draw in training and unseeded sampling).
        **kwargs: passed on to ``keras.Model`` (``name``, ...).
    """

    optimizer_names: tuple = ()
    num_classes: int | None = None  # class-conditional models set this
    value_range = (-1, 1)
    # what has no XLA kernel in this model's step, if anything (then XLA is never the default)
    xla_unsupported = ""
    # what XLA's CPU compiler rejects in this model's step under mixed_bfloat16
    xla_cpu_bf16_unsupported = ""

    def __init__(self, *, trackers=(), seed: int = 0, **kwargs):
        # under the model's own policy (Checkpointable.__init_subclass__)
        super().__init__(**kwargs)
        self.seed = check_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed, name="seed_generator")
        self.trackers = {name: keras.metrics.Mean(name=name) for name in trackers}
        self.steps_done = keras.Variable(
            0, dtype="int64", trainable=False, name="steps_done", aggregation="only_first_replica"
        )
        self.optimizers = {}

    # --- construction -------------------------------------------------------------

    def build_now(self, *example_inputs) -> None:
        """Call the model once so it is built (``save_weights`` refuses unbuilt models).

        Args:
            *example_inputs: one example batch for each positional argument of ``call`` (NumPy
                arrays with a batch of 1: latents, or images and labels, ...).
        """
        self(*example_inputs)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def optimizer_variables(self, name: str) -> list:
        """The variables that optimizer ``name`` updates; subclasses implement it.

        Args:
            name: one of ``optimizer_names``.

        Returns:
            A list of trainable variables.
        """
        raise NotImplementedError

    def default_optimizers(self) -> dict:
        """The optimizers :meth:`compile` uses when none are given; subclasses implement it.

        Returns:
            A dict from every name in ``optimizer_names`` to a new ``keras.optimizers.Optimizer``.
        """
        raise NotImplementedError

    def compile(self, optimizers: dict | None = None, *, jit_compile=None, **kwargs):
        """Attach and build one optimizer per name in ``optimizer_names``.

        Every optimizer is built on its variables inside the model's distribution strategy scope
        and, under the ``mixed_float16`` policy, wrapped in a ``LossScaleOptimizer``.
        ``jit_compile=None`` (or ``"auto"``) takes the package default for this model on this
        hardware (``aigc_keras.hardware.jit_compile(model)``), or graph mode for a model whose
        ``xla_unsupported`` names an op that XLA cannot compile.

        Args:
            optimizers: a dict from every name in ``optimizer_names`` (no more, no fewer) to a
                ``keras.optimizers.Optimizer`` instance (not a string); ``None`` takes
                :meth:`default_optimizers`.
            jit_compile: ``True`` (XLA), ``False`` (graph mode), or ``None`` / ``"auto"`` (the
                package default).
            **kwargs: passed on to ``keras.Model.compile`` (``steps_per_execution``, ...).

        Raises:
            ValueError: an unknown ``jit_compile``, XLA asked for where it cannot compile this
                model's step, or optimizer names that differ from ``optimizer_names``.
            TypeError: an optimizer that is not a ``keras.optimizers.Optimizer`` instance.
        """
        if jit_compile not in (True, False, None, "auto"):
            raise ValueError(
                f"jit_compile must be True, False, None or 'auto', got {jit_compile!r}."
            )
        if jit_compile in (None, "auto"):
            # the default, unless an op of this model has no XLA kernel
            jit_compile = hardware.jit_compile(self)
        elif jit_compile and self.xla_unsupported:
            raise ValueError(
                f"{type(self).__name__} cannot be compiled with XLA (jit_compile=True): "
                f"{self.xla_unsupported}. Use jit_compile=False, or None for the default."
            )
        if (
            jit_compile
            and self.xla_cpu_bf16_unsupported
            and self.dtype_policy.name == "mixed_bfloat16"
            and not hardware.gpus()
            and not tf.config.list_physical_devices("TPU")
        ):
            raise ValueError(
                f"{type(self).__name__} cannot be compiled with XLA under mixed_bfloat16 on a CPU: "
                f"{self.xla_cpu_bf16_unsupported}. Make the model after "
                "hardware.set_precision('float32') "
                f"(command line: --precision float32), or use jit_compile=False (--xla off)."
            )
        given = dict(self.default_optimizers() if optimizers is None else optimizers)
        if set(given) != set(self.optimizer_names):
            raise ValueError(
                f"{type(self).__name__}.compile needs optimizers named "
                f"{sorted(self.optimizer_names)}, got {sorted(given)}."
            )
        mixed16 = self.dtype_policy.name == "mixed_float16"  # the model's own policy
        built = {}
        with self.distribute_strategy.scope():
            for name in self.optimizer_names:
                opt = given[name]
                if isinstance(opt, str) or not isinstance(opt, keras.optimizers.Optimizer):
                    raise TypeError(
                        f"optimizer {name!r} must be a keras.optimizers.Optimizer instance, "
                        f"got {opt!r}."
                    )
                if mixed16 and not isinstance(opt, keras.optimizers.LossScaleOptimizer):
                    opt = keras.optimizers.LossScaleOptimizer(opt)
                opt.build(self.optimizer_variables(name))
                built[name] = opt
        self.optimizers = built
        first = built[self.optimizer_names[0]] if self.optimizer_names else None
        super().compile(optimizer=first, jit_compile=jit_compile, **kwargs)

    # --- helpers for train_step ---------------------------------------------------------

    def noise(
        self, shape, distribution: str = "normal", *, minval=0.0, maxval=1.0, dtype="float32"
    ):
        """Seeded noise that differs between replicas and between steps.

        Every call advances the model's seed generator; the replica id is folded into the seed, so
        the replicas of a ``MirroredStrategy`` draw different noise.

        Args:
            shape: the shape of the draw, batch first (a tuple of ints or an int tensor).
            distribution: ``"normal"`` (standard normal) or ``"uniform"``.
            minval: the lower bound of a uniform draw (included).
            maxval: the upper bound of a uniform draw (excluded).
            dtype: the dtype of the draw (float32 by default).

        Returns:
            A tensor of ``shape`` and ``dtype``.

        Raises:
            ValueError: an unknown ``distribution``.
        """
        seed = tf.cast(self.seed_generator.next(), tf.int64)
        context = tf.distribute.get_replica_context()
        replica = context.replica_id_in_sync_group if context is not None else 0
        seed = tf.random.experimental.stateless_fold_in(seed, tf.cast(replica, tf.int64))
        if distribution == "normal":
            return tf.random.stateless_normal(shape, seed=seed, dtype=dtype)
        if distribution == "uniform":
            return tf.random.stateless_uniform(
                shape, seed=seed, minval=minval, maxval=maxval, dtype=dtype
            )
        raise ValueError(f"distribution {distribution!r} is not known; use 'normal' or 'uniform'.")

    def unpack(self, data):
        """``(images in the compute dtype, int32 labels or None)`` from a batch.

        Class-conditional models need ``(images, labels)`` batches; the others ignore labels.

        Args:
            data: a batch as ``fit`` passes it to ``train_step``: images ``(B, H, W, C)``, or a
                tuple or list ``(images, labels)`` with integer class ids ``(B,)``.

        Returns:
            ``(images, labels)``: the images cast to the compute dtype, and the labels as int32
            (``None`` for a model that is not class-conditional).
        """
        if isinstance(data, (tuple, list)):
            images, labels = data[0], data[1]
        else:
            images, labels = data, None
        if self.num_classes and labels is None:
            raise ValueError(
                f"{type(self).__name__} trains on (images, labels) batches: "
                "load the data with labels=True."
            )
        return self.as_compute(images), (tf.cast(labels, tf.int32) if self.num_classes else None)

    def as_compute(self, images):
        """Cast real images to the compute dtype (float16/bfloat16 under a mixed policy).

        Args:
            images: a tensor or array of images (any dtype).

        Returns:
            The images as a tensor of ``self.compute_dtype``.
        """
        return keras.ops.cast(images, self.compute_dtype)

    def scale_loss(self, name: str, loss):
        """The loss to differentiate: divided by the replica count, then loss-scaled.

        Call it inside the ``tf.GradientTape`` (the scaling must be recorded) and give the result
        to :meth:`descend`.

        Args:
            name: the optimizer whose loss scale applies (one of ``optimizer_names``).
            loss: this replica's scalar loss (any float dtype; cast to float32).

        Returns:
            The scaled float32 scalar.
        """
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        loss = keras.ops.cast(loss, "float32")
        if replicas > 1:
            loss = loss / replicas  # gradients are summed over replicas
        return self.optimizers[name].scale_loss(loss)

    def apply_gradients(self, name: str, gradients, variables) -> None:
        """Apply ``gradients`` to ``variables`` with optimizer ``name``.

        A loss-scaling optimizer unscales the gradients first (and skips a non-finite step).

        Args:
            name: one of ``optimizer_names``.
            gradients: one gradient per variable, of a loss from :meth:`scale_loss`.
            variables: the variables to update.
        """
        self.optimizers[name].apply(gradients, variables)

    def descend(self, name: str, tape, scaled_loss, variables) -> None:
        """One optimizer step on ``variables`` from a loss that :meth:`scale_loss` scaled.

        Args:
            name: the optimizer to step (one of ``optimizer_names``).
            tape: the ``tf.GradientTape`` that recorded the loss and its scaling (persistent when
                it serves more than one call).
            scaled_loss: ``self.scale_loss(name, loss)``, computed inside ``tape``.
            variables: the variables to differentiate and update.
        """
        self.apply_gradients(name, tape.gradient(scaled_loss, variables), variables)

    def descend_jointly(self, names, tape, scaled_losses: dict) -> None:
        """:meth:`descend` for optimizers that minimise the same loss (CycleGAN's two generators).

        When none of them scales the loss (no ``LossScaleOptimizer``, no ``loss_scale_factor``),
        their scaled losses are the same tensor value, so one backward pass serves all: the
        gradient graph is built once instead of once per optimizer (CycleGAN's first step traced
        in 20 s instead of 26 s here).

        Args:
            names: the optimizers to step (names from ``optimizer_names``), each on its own
                ``optimizer_variables(name)``.
            tape: the ``tf.GradientTape`` that recorded the losses; persistent, as each optimizer
                may differentiate its own scaled loss.
            scaled_losses: a dict from each of ``names`` to ``self.scale_loss(name, loss)`` of the
                shared loss (further entries are ignored).
        """
        unscaled = all(
            not isinstance(self.optimizers[n], keras.optimizers.LossScaleOptimizer)
            and self.optimizers[n].loss_scale_factor is None
            for n in names
        )
        if not unscaled:
            for name in names:
                self.descend(name, tape, scaled_losses[name], self.optimizer_variables(name))
            return
        groups = [list(self.optimizer_variables(name)) for name in names]
        gradients = tape.gradient(scaled_losses[names[0]], [v for group in groups for v in group])
        start = 0
        for name, group in zip(names, groups, strict=True):
            self.apply_gradients(name, gradients[start : start + len(group)], group)
            start += len(group)

    def record(self, *, count_step: bool = True, **values) -> dict:
        """Update the trackers named in ``values``; returns every tracker's result.

        Args:
            count_step: add one to the step counter (``True`` in ``train_step``, ``False`` in
                ``test_step``).
            **values: tracker name -> this batch's value (a scalar tensor), for the trackers to
                update.

        Returns:
            A dict from every tracker's name to its running mean: what ``train_step`` returns.
        """
        for name, value in values.items():
            self.trackers[name].update_state(value)
        if count_step:
            self.steps_done.assign_add(1)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    # --- moving averages of weights ------------------------------------------------------

    def set_moving_average(self, ema_decay, ema_rampup) -> None:
        """Check and keep the moving average's two settings (see :meth:`ema_beta`).

        Args:
            ema_decay: the largest decay, in [0, 1] (0: the average is the live weights).
            ema_rampup: the half-life as a fraction of the steps done, in [0, 1].
        """
        for what, value in (("ema_decay", ema_decay), ("ema_rampup", ema_rampup)):
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not number or not 0 <= value <= 1:
                raise ValueError(f"{what} must be a number in [0, 1], got {value!r}.")
        self.ema_decay, self.ema_rampup = float(ema_decay), float(ema_rampup)

    def ema_beta(self, step):
        """The moving average's decay at ``step``: half-life ``ema_rampup * step`` steps, capped.

        At most ``ema_decay``; StyleGAN2-ADA's ramp-up.  A fixed 0.999 would average over the last
        ~1,000 steps, a blur of a generator that is still changing fast in a short run; the ramp-up
        keeps the average over the last ``ema_rampup`` of training.

        Args:
            step: the training steps done (an int or a scalar tensor).

        Returns:
            The decay β, a float32 scalar tensor: ``min(ema_decay, 0.5 ** (1 / half_life))``
            with a half-life of at least one step.
        """
        half_life = tf.maximum(self.ema_rampup * tf.cast(step, tf.float32), 1.0)
        return tf.minimum(self.ema_decay, tf.pow(0.5, 1.0 / half_life))

    def update_moving_average(self, averages, live, step=None) -> None:
        """``average <- β average + (1 - β) live`` for each pair, β = :meth:`ema_beta` now.

        Called in ``train_step`` after the optimizer steps.  The live weights are identical on
        every replica after the gradient all-reduce, so the copy is made once, in cross-replica
        context.

        Args:
            averages: the variables holding the averages (non-trainable copies).
            live: the variables they follow, in the same order.
            step: the steps the averaged weights have trained for (default: the model's
                ``steps_done``), which sets the ramp-up.
        """
        beta = self.ema_beta(self.steps_done if step is None else step)
        pairs = list(zip(averages, live, strict=True))

        def update(strategy):
            for average, weight in pairs:
                strategy.extended.update(
                    average.value,
                    lambda a, v: a.assign(beta * a + (1.0 - beta) * tf.cast(v, a.dtype)),
                    args=(weight.value,),
                    group=False,
                )

        tf.distribute.get_replica_context().merge_call(update)

    # --- sampling -------------------------------------------------------------------

    @property
    def latent_shape(self) -> tuple:
        """The shape of one latent (without the batch) that :meth:`generate` draws."""
        raise NotImplementedError

    def sample_from_latents(self, latents, labels=None, **options):
        """Images from a batch of latents; subclasses implement it.

        Args:
            latents: a float tensor ``(B, *latent_shape)``.
            labels: int32 class ids ``(B,)`` for a class-conditional model, else ``None``.
            **options: the subclass's sampling options.

        Returns:
            Images ``(B, H, W, C)`` in ``value_range``.
        """
        raise NotImplementedError

    def _check_labels(self, n, labels):
        if labels is None:
            if self.num_classes is not None:
                raise ValueError(
                    f"{type(self).__name__} is class-conditional: "
                    f"pass labels=[...] (0..{self.num_classes - 1})."
                )
            return (16 if n is None else n), None
        if self.num_classes is None:
            raise ValueError(f"{type(self).__name__} is not class-conditional; do not pass labels.")
        labels = np.asarray(labels)
        if labels.size == 0:
            raise ValueError("labels is empty; pass at least one class id.")
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError("labels must be a 1-D sequence of integer class ids.")
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(
                f"labels must be in 0..{self.num_classes - 1}, got {labels.min()}..{labels.max()}."
            )
        if n is not None and n != len(labels):
            raise ValueError(
                f"n={n} differs from the {len(labels)} labels given; pass one of them."
            )
        return len(labels), labels.astype(np.int32)

    def generate(
        self, n=None, *, labels=None, seed=None, batch_size: int = 256, **options
    ) -> np.ndarray:
        """Sample ``n`` images (in ``self.value_range``) as a float32 NumPy array.

        ``seed`` (an int) makes the draw reproducible and leaves the model's own seed
        state untouched; without it the model's seed generator advances.

        Args:
            n: the number of images (``None``: 16, or one per label); with ``labels`` it must
                equal ``len(labels)``.
            labels: class ids in ``0 .. num_classes - 1``, one per image (a 1-D integer
                sequence); required by class-conditional models, refused by the others.
            seed: a non-negative int for a reproducible draw, or ``None``.
            batch_size: the most images the network makes per call.
            **options: sampling options of the model, passed to ``sample_from_latents``.

        Returns:
            Float32 images ``(n, H, W, C)`` in ``value_range``.
        """
        named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        taken = [  # the sampling options this model's sample_from_latents names
            name
            for name, parameter in inspect.signature(self.sample_from_latents).parameters.items()
            if parameter.kind in named and name not in ("latents", "labels")
        ]
        unknown = sorted(set(options) - set(taken))
        if unknown:
            raise ValueError(
                f"{type(self).__name__}.generate has no option {unknown[0]!r}; it takes n, labels, "
                f"seed, batch_size{''.join(', ' + name for name in taken)}."
            )
        n, labels = self._check_labels(n, labels)
        n = check_int(n, "n")
        batch_size = check_int(batch_size, "batch_size")
        if seed is not None:
            check_seed(seed)
        shape = (int(n), *self.latent_shape)
        if seed is None:
            latents = self.noise(shape)
        else:
            latents = tf.random.stateless_normal(shape, seed=[int(seed), 0])
        outputs = []
        for start in range(0, n, batch_size):
            batch_labels = (
                None
                if labels is None
                else tf.constant(labels[start : start + batch_size], tf.int32)
            )
            images = self.sample_from_latents(
                latents[start : start + batch_size], batch_labels, **options
            )
            outputs.append(keras.ops.convert_to_numpy(keras.ops.cast(images, "float32")))
        return np.concatenate(outputs)

    # --- checkpoints (the methods are Checkpointable's) -----------------------------------

    def _named_optimizers(self) -> dict:
        return self.optimizers

    def _state_variables(self) -> dict:
        groups = {"model": list(self.variables)}
        for name, opt in self.optimizers.items():
            groups[f"optimizer/{name}"] = list(opt.variables)
        return groups

    def _steps_done(self) -> int:
        return int(self.steps_done.numpy())

    def get_config(self) -> dict:
        """Constructor arguments; subclasses extend it. Checkpoints compare it on load."""
        return {"seed": self.seed}
