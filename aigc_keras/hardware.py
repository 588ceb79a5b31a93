"""Run-time hardware defaults: precision, XLA, distribution strategy and batch size.

The defaults are chosen per model from speed ratios the benchmark measured (package data
``measured_defaults.json``, written by ``python -m benchmarks.run --write-defaults``; the machine
and date are stored beside the figures).  A model without an entry there gets the plain defaults
(float32, graph mode on a CPU).

Precision never leaks: a model is built under its own dtype policy and Keras' global policy is
restored afterwards (:func:`building`), so layers a user makes later follow the user's policy,
not the last model's.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import pathlib

from . import config
from .validation import check_int

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
# The recipe batch size of every model's defaults (the learning rates were set for it).
RECIPE_BATCH = 64
# A measured gain must reach these bars before it changes a default: below them it is within the
# run-to-run noise of a shared CPU (5-7 % here), while XLA's longer first compile is certain.
XLA_MIN_GAIN = 1.15
BF16_MIN_GAIN = 1.10
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
DEFAULTS_FILE = pathlib.Path(__file__).with_name("measured_defaults.json")

_state = {
    "jit_compile": None,
    "strategy": None,
    "precision_chosen": False,
    "precision_set": "float32",
}


@functools.cache
def measured_defaults() -> dict:
    """The measured per-model gains (see the module docstring); empty tables if the file is missing.

    Returns:
        A dict with ``cpu_xla_gain``, ``cpu_bf16_gain`` (class name -> ratio) and
        ``cpu_bf16_fails_quality`` (class name -> why), plus ``machine`` and ``measured``.
    """
    empty = {"cpu_xla_gain": {}, "cpu_bf16_gain": {}, "cpu_bf16_fails_quality": {}}
    if not DEFAULTS_FILE.is_file():
        return {**empty, "machine": "none", "measured": "never"}
    stored = json.loads(DEFAULTS_FILE.read_text(encoding="utf-8"))
    tables = {key: stored.get(key, {}) for key in empty}
    for key in ("cpu_xla_gain", "cpu_bf16_gain"):
        tables[key] = dict(tables[key].get("gains", {}))
    return {**stored, **tables}


def _class(model) -> type:
    return model if isinstance(model, type) else type(model)


def _check_report_model(model) -> None:
    """``None``, a Keras model or a model class, or a ``ValueError`` (a class's name read as the
    ``str`` class, or raised a raw AttributeError)."""
    import keras

    if model is None or isinstance(model, keras.Model):
        return
    if isinstance(model, type) and issubclass(model, keras.Model):
        return
    raise ValueError(
        f"model must be a Keras model, a model class (e.g. gan.DCGAN) or None, got {model!r}."
    )


def _table_entry(table: str, model):
    """A model's entry (instance, class or class name) in a measured table: its own, or its nearest
    listed base class's; ``None`` if neither is listed."""
    entries = measured_defaults()[table]
    names = [model] if isinstance(model, str) else [base.__name__ for base in _class(model).__mro__]
    for name in names:
        if name in entries:
            return entries[name]
    return None


def cpu_flags() -> frozenset:
    """The CPU's feature flags (Linux ``/proc/cpuinfo``; empty elsewhere).

    Returns:
        A frozenset of flag names such as ``"avx512_bf16"``.
    """
    if "cpu_flags" not in _state:
        flags = frozenset()
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    if line.startswith(("flags", "Features")):
                        flags = frozenset(line.split(":", 1)[1].split())
                        break
        except OSError:
            pass
        _state["cpu_flags"] = flags
    return _state["cpu_flags"]


def gpus() -> list:
    """The physical GPUs TensorFlow sees."""
    import tensorflow as tf

    return tf.config.list_physical_devices("GPU")


# --- precision ---------------------------------------------------------------------------------


def cpu_bf16_gain(model):
    """The measured mixed_bfloat16 / float32 speed ratio on a CPU for a model, or ``None``.

    Args:
        model: a model instance, class or class name.
    """
    return _table_entry("cpu_bf16_gain", model)


def _bf16_on_cpu(model) -> bool:
    """Whether a model measured at least BF16_MIN_GAIN faster in mixed_bfloat16 on a CPU and keeps
    its quality bar there."""
    gain = cpu_bf16_gain(model)
    fails = _table_entry("cpu_bf16_fails_quality", model)
    return gain is not None and gain >= BF16_MIN_GAIN and fails is None


def default_precision(model=None) -> str:
    """The fastest correct dtype policy for the hardware found.

    * CPU with bfloat16 instructions (AVX512_BF16, AMX): ``mixed_bfloat16`` for a model measured at
      least ``BF16_MIN_GAIN`` faster in it that keeps its quality bar there, in graph mode;
      ``float32`` for the other models, for a model under XLA (the gains are graph-mode figures)
      and for models in general.
    * Other CPUs: ``float32`` (no half-precision arithmetic: both mixed policies run slower).
    * NVIDIA GPU with tensor cores (compute capability 7.0+): ``mixed_float16`` with loss scaling;
      older GPUs ``float32``.
    * TPU: ``mixed_bfloat16``.

    Args:
        model: a model instance or class; ``None`` for models in general.

    Returns:
        A policy name from :data:`PRECISIONS`.
    """
    import tensorflow as tf

    if tf.config.list_physical_devices("TPU"):  # physical: listing logical ones starts the runtime
        return "mixed_bfloat16"
    gpu_list = gpus()
    for gpu in gpu_list:
        details = tf.config.experimental.get_device_details(gpu)
        if tuple(details.get("compute_capability", (0, 0))) >= (7, 0):
            return "mixed_float16"
    if gpu_list or model is None or not cpu_flags() & set(BF16_CPU_FLAGS):
        return "float32"
    if jit_compile(model):  # the gains are graph-mode figures
        return "float32"
    return "mixed_bfloat16" if _bf16_on_cpu(model) else "float32"


def _check_policy(policy: str, allow_auto: bool = True) -> None:
    if (policy != "auto" or not allow_auto) and policy not in PRECISIONS:
        accepted = ("'auto' or " if allow_auto else "") + "one of " + ", ".join(PRECISIONS)
        raise ValueError(f"precision {policy!r} is not supported; use {accepted}.")


def set_precision(policy: str = "float32") -> str:
    """Choose the dtype policy of the models made from now on (and Keras' global policy).

    ``"auto"`` returns to the hardware's defaults: each model then takes its own
    (:func:`default_precision`) while it is built, and Keras' global policy goes back to
    ``float32``.  A model made before this call keeps its policy.

    Args:
        policy: ``"auto"``, ``"float32"``, ``"mixed_float16"`` (NVIDIA GPUs, with loss scaling) or
            ``"mixed_bfloat16"`` (TPUs, recent GPUs, CPUs with bfloat16 instructions).

    Returns:
        The policy chosen (for ``"auto"``: the default for models in general).
    """
    _check_policy(policy)
    import keras

    chosen = policy != "auto"
    keras.config.set_dtype_policy(policy if chosen else "float32")
    _state["precision_chosen"] = chosen
    _state["precision_set"] = policy if chosen else "float32"
    return policy if chosen else default_precision()


def user_chose_precision() -> bool:
    """Whether the global policy is the user's: set by :func:`set_precision`, or through Keras'
    ``keras.config.set_dtype_policy`` to something other than what this module last set."""
    import keras

    return _state["precision_chosen"] or keras.config.dtype_policy().name != _state["precision_set"]


def model_precision(model) -> str:
    """The policy a model is built under: the user's choice if any, else its hardware default.

    Args:
        model: a model instance or class.
    """
    import keras

    return keras.config.dtype_policy().name if user_chose_precision() else default_precision(model)


@contextlib.contextmanager
def building(model):
    """Build ``model`` (a class) under its own policy, then restore Keras' global policy.

    Args:
        model: the model class being made.

    Yields:
        The policy name the model is built under.
    """
    import keras

    before = keras.config.dtype_policy()
    policy = model_precision(model)
    keras.config.set_dtype_policy(policy)
    try:
        yield policy
    finally:
        keras.config.set_dtype_policy(before)


@contextlib.contextmanager
def precision_scope(policy: str):
    """Make models under ``policy`` inside the ``with`` block, then restore the choice before it.

    Args:
        policy: as accepted by :func:`set_precision`.

    Yields:
        The policy.
    """
    import keras

    before = keras.config.dtype_policy(), _state["precision_chosen"], _state["precision_set"]
    set_precision(policy)
    try:
        yield policy
    finally:
        keras.config.set_dtype_policy(before[0])
        _state["precision_chosen"], _state["precision_set"] = before[1:]


def precision() -> str:
    """Keras' global dtype policy name (what layers made outside a model take)."""
    import keras

    return keras.config.dtype_policy().name


def precision_report(model=None) -> str:
    """The precision part of the environment line.

    Args:
        model: a model instance (the policy it was made under), a class (the policy it will take),
            or ``None`` for models in general.
    """
    _check_report_model(model)
    if model is not None:
        if not isinstance(model, type):
            name = model.dtype_policy.name
            default = name == default_precision(model) and not user_chose_precision()
        else:
            default = not user_chose_precision()
            name = model_precision(model)
        suffix = f" (hardware default for {_class(model).__name__})" if default else ""
        return f"precision {name}{suffix}"
    if user_chose_precision():
        return f"precision {precision()}"
    general = default_precision()
    if general == "float32" and cpu_flags() & set(BF16_CPU_FLAGS) and not gpus():
        listed = [name for name in measured_defaults()["cpu_bf16_gain"] if _bf16_on_cpu(name)]
        return (
            "precision per model (hardware default: mixed_bfloat16 for "
            f"{', '.join(listed)}; float32 otherwise)"
        )
    return f"precision {general} (hardware default)"


# --- XLA ---------------------------------------------------------------------------------------


def cpu_xla_gain(model):
    """The measured XLA / graph speed ratio on a CPU for a model, or ``None`` if not listed.

    Args:
        model: a model instance, class or class name.
    """
    return _table_entry("cpu_xla_gain", model)


def set_jit_compile(value) -> None:
    """Choose XLA compilation for the models' ``compile()``.

    Args:
        value: ``True``, ``False`` or ``"auto"`` (``None``): the hardware default per model.
    """
    if value not in (True, False, "auto", None):
        raise ValueError(f"jit_compile must be True, False or 'auto', got {value!r}.")
    _state["jit_compile"] = None if value == "auto" else value


def jit_compile(model=None, *, quick=None) -> bool:
    """The XLA setting a model uses by default.

    * A model whose ``xla_unsupported`` names an op without an XLA kernel: off, always.
    * Chosen with :func:`set_jit_compile` (the command line's ``--xla``): that.
    * GPU or TPU: on.
    * CPU: on where the benchmark measured XLA at least ``XLA_MIN_GAIN`` faster, except in quick
      mode, whose runs of a few dozen steps end before XLA repays its compile time, and except
      inside a strategy with several replicas on CPU devices: a compiled step there cannot reach
      the variables of the other logical devices ("Trying to access resource ... located in
      device CPU:1 from device CPU:0").

    Args:
        model: a model instance or class; ``None`` for models in general.
        quick: whether the run is a short one (default: quick mode, ``AIGC_QUICK=1``); a test
            that trains for thousands of steps in quick mode passes ``quick=False``.

    Returns:
        Whether to compile with XLA.
    """
    if model is not None and getattr(_class(model), "xla_unsupported", ""):
        return False
    if _state["jit_compile"] is not None:
        return bool(_state["jit_compile"])
    if gpus():
        return True
    if model is None or (config.is_quick() if quick is None else quick):
        return False
    import tensorflow as tf

    # the strategy a model was made under (a class has none)
    strategy = None if isinstance(model, type) else getattr(model, "distribute_strategy", None)
    if strategy is None and tf.distribute.has_strategy():
        strategy = tf.distribute.get_strategy()
    if strategy is not None and strategy.num_replicas_in_sync > 1:
        return False
    gain = cpu_xla_gain(model)
    return gain is not None and gain >= XLA_MIN_GAIN


def xla_report(model=None) -> str:
    """The XLA part of the environment line.

    Args:
        model: a model instance or class, or ``None`` for models in general.
    """
    _check_report_model(model)
    if model is not None:
        chosen = _state["jit_compile"] is not None
        suffix = "" if chosen else f" (hardware default for {_class(model).__name__})"
        return f"XLA {'on' if jit_compile(model) else 'off'}{suffix}"
    if _state["jit_compile"] is not None:
        return f"XLA {'on' if _state['jit_compile'] else 'off'}"
    if gpus():
        return "XLA on (hardware default)"
    if config.is_quick():
        return "XLA off (hardware default in quick mode)"
    gains = measured_defaults()["cpu_xla_gain"].items()
    on = [name for name, gain in gains if gain is not None and gain >= XLA_MIN_GAIN]
    return f"XLA per model (hardware default: on for {', '.join(on) or 'none'})"


# --- distribution and batch size ----------------------------------------------------------------


def default_batch_size(recipe: int = RECIPE_BATCH) -> int:
    """The global batch for the active strategy: the recipe's batch per replica.

    Args:
        recipe: the batch size the model's learning rates were set for.

    Returns:
        ``recipe`` times the number of replicas in sync.
    """
    import tensorflow as tf

    return check_int(recipe, "recipe") * tf.distribute.get_strategy().num_replicas_in_sync


def strategy(kind: str = "auto"):
    """A ``tf.distribute`` strategy, created once per process and then reused.

    One ``MirroredStrategy`` per process: TensorFlow 2.21 numbers the collective operations of
    each new one from the same start, so a second one can pair its all-reduces with the first
    one's and fail with a shape mismatch (seen here).

    Args:
        kind: ``"auto"`` (``MirroredStrategy`` over several GPUs, else the default strategy),
            ``"mirrored"`` (over every GPU, or every logical CPU device; see :func:`split_cpu`)
            or ``"default"``.

    Returns:
        The strategy.
    """
    import tensorflow as tf

    if kind not in ("auto", "mirrored", "default"):
        raise ValueError(f"strategy {kind!r} is not known; use 'auto', 'mirrored' or 'default'.")
    if kind == "default" or (kind == "auto" and len(gpus()) <= 1):
        return tf.distribute.get_strategy()
    if _state["strategy"] is None:
        devices = None if gpus() else [d.name for d in tf.config.list_logical_devices("CPU")]
        _state["strategy"] = tf.distribute.MirroredStrategy(devices)
    return _state["strategy"]


def split_cpu(n: int = 2) -> list:
    """Split the CPU into ``n`` logical devices (for testing ``MirroredStrategy``).

    Must run before TensorFlow initialises its devices.

    Args:
        n: the number of logical CPU devices.

    Returns:
        The logical CPU devices.
    """
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    config_list = [tf.config.LogicalDeviceConfiguration()] * check_int(n, "n")
    tf.config.set_logical_device_configuration(cpu, config_list)
    return tf.config.list_logical_devices("CPU")


def environment_report(model=None) -> str:
    """One line: versions, device, precision, XLA, batch, strategy and mode.

    Args:
        model: a model instance or class, for its own precision and XLA settings.
    """
    import keras
    import tensorflow as tf

    _check_report_model(model)
    gpu_list = gpus()
    if gpu_list:
        names = {
            tf.config.experimental.get_device_details(g).get("device_name", g.name)
            for g in gpu_list
        }
        device = f"GPU x{len(gpu_list)} ({', '.join(sorted(names))})"
    else:
        device = f"CPU ({os.cpu_count()} cores)"
    active = tf.distribute.get_strategy()
    name = type(active).__name__
    name = "default" if name == "_DefaultDistributionStrategy" else name
    replicas = active.num_replicas_in_sync
    return (
        f"TensorFlow {tf.__version__} | Keras {keras.__version__} | {device} | "
        f"{precision_report(model)} | {xla_report(model)} | "
        f"batch: recipe x{replicas} replicas | "
        f"strategy {name} ({replicas} replica{'s' if replicas != 1 else ''}) | mode {config.mode()}"
    )
