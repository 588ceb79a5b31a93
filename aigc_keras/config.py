"""Run-time settings shared by the package, the notebooks and the command line.

* Notebook modes: ``quick`` (``AIGC_QUICK=1``; tests and CI), ``standard`` (the
  default; what the committed notebook outputs come from) and ``full``
  (``AIGC_MODE=full``; longer training for a GPU).  The same code runs in every
  mode: only data sizes, step counts and sample counts change, through
  :func:`pick`.
* The output folder (``AIGC_OUTPUT``, default ``outputs/``): checkpoints, sample
  grids, cached classifiers and statistics.  Point it at Google Drive on Colab so
  training survives a disconnect.
* Seeding, a one-line environment report, and the precision / XLA / strategy
  helpers.
"""

from __future__ import annotations

import os
import pathlib
import random

import numpy as np

MODES = ("quick", "standard", "full")

_state = {"jit_compile": None, "strategy": None}


def is_int(value) -> bool:
    """True for Python and NumPy integers (``bool`` excluded)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_int(value, what: str, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise ``ValueError`` naming ``what`` and what is accepted."""
    if not is_int(value) or value < minimum:
        accepted = {1: "a positive integer", 0: "a non-negative integer"}.get(minimum, f"an integer >= {minimum}")
        raise ValueError(f"{what} must be {accepted}, got {value!r}.")
    return int(value)


def mode() -> str:
    """The notebook mode: ``AIGC_QUICK=1`` wins, then ``AIGC_MODE``, else ``standard``."""
    if os.environ.get("AIGC_QUICK", "").strip().lower() in ("1", "true", "yes", "on"):
        return "quick"
    value = os.environ.get("AIGC_MODE", "standard").strip().lower() or "standard"
    if value not in MODES:
        raise ValueError(f"AIGC_MODE={value!r} is not a mode; use one of {', '.join(MODES)}.")
    return value


def is_quick() -> bool:
    return mode() == "quick"


def pick(*, quick, standard, full=None):
    """Return the value for the current mode (``full`` defaults to ``standard``).

    Notebooks write ``STEPS = pick(quick=20, standard=600, full=5000)`` so every
    value shows what it is in each mode.
    """
    return {"quick": quick, "standard": standard, "full": standard if full is None else full}[mode()]


def output_dir(*parts: str, create: bool = True) -> pathlib.Path:
    """The output folder (``AIGC_OUTPUT`` or ``outputs/``), or a sub-folder of it."""
    root = pathlib.Path(os.environ.get("AIGC_OUTPUT", "outputs")).expanduser()
    path = root.joinpath(*parts)
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def set_seed(seed: int = 0) -> int:
    """Seed Python, NumPy, TensorFlow and Keras' global generator."""
    seed = check_int(seed, "seed", minimum=0)
    import keras

    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)  # also seeds tf.random
    return seed


# --- precision, XLA and distribution -------------------------------------------------

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def set_precision(policy: str = "float32") -> str:
    """Set Keras' global dtype policy.

    ``mixed_float16`` suits NVIDIA GPUs (models then scale their losses with
    ``keras.optimizers.LossScaleOptimizer``); ``mixed_bfloat16`` suits TPUs and
    recent GPUs; ``float32`` is the right choice on a CPU.
    """
    if policy not in PRECISIONS:
        raise ValueError(f"precision {policy!r} is not supported; use one of {', '.join(PRECISIONS)}.")
    import keras

    keras.mixed_precision.set_global_policy(policy)
    return policy


def precision() -> str:
    import keras

    return keras.mixed_precision.global_policy().name


def set_jit_compile(value) -> None:
    """Choose XLA compilation for the models' ``compile()`` (``True``, ``False`` or ``"auto"``)."""
    if value not in (True, False, "auto", None):
        raise ValueError(f"jit_compile must be True, False or 'auto', got {value!r}.")
    _state["jit_compile"] = None if value == "auto" else value


def jit_compile() -> bool:
    """The XLA setting models use by default.

    On a CPU, graph mode without XLA is faster for these small convolutional
    networks (measured here); on a GPU XLA fuses the many small element-wise ops
    of the GAN losses, so it is on there.
    """
    if _state["jit_compile"] is not None:
        return bool(_state["jit_compile"])
    return bool(gpus())


def gpus() -> list:
    import tensorflow as tf

    return tf.config.list_physical_devices("GPU")


def strategy(kind: str = "auto"):
    """Return a ``tf.distribute`` strategy, created once per process and then reused.

    ``auto``: ``MirroredStrategy`` when more than one GPU is visible, otherwise the
    default strategy.  ``mirrored`` forces it: over every GPU, or with no GPU over every
    logical CPU device (see :func:`split_cpu`).  ``default`` forces the default strategy.
    One ``MirroredStrategy`` per process: TensorFlow 2.21 numbers the collective operations
    of each new one from the same start, so a second one in the same process can pair its
    all-reduces with the first one's and fail with a shape mismatch (seen here).
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
    """
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
    return tf.config.list_logical_devices("CPU")


def environment_report() -> str:
    """One line: versions, device, precision, XLA, strategy, mode."""
    import keras
    import tensorflow as tf

    gpu_list = gpus()
    if gpu_list:
        names = []
        for gpu in gpu_list:
            details = tf.config.experimental.get_device_details(gpu)
            names.append(details.get("device_name", gpu.name))
        device = f"GPU x{len(gpu_list)} ({', '.join(sorted(set(names)))})"
    else:
        device = f"CPU ({os.cpu_count()} cores)"
    active = tf.distribute.get_strategy()
    strat = type(active).__name__
    if strat == "_DefaultDistributionStrategy":
        strat = "default"
    replicas = active.num_replicas_in_sync
    return (
        f"TensorFlow {tf.__version__} | Keras {keras.__version__} | {device} | "
        f"precision {precision()} | XLA {'on' if jit_compile() else 'off'} | "
        f"strategy {strat} ({replicas} replica{'s' if replicas != 1 else ''}) | mode {mode()}"
    )


# --- value ranges (shared by data, viz and the models) ------------------------------


def check_value_range(value_range):
    """Normalise a value range: ``(-1, 1)``, ``(0, 1)`` or an integer number of levels."""
    if is_int(value_range):
        if value_range < 2:
            raise ValueError(f"quantised value_range needs at least 2 levels, got {value_range}.")
        return int(value_range)
    if isinstance(value_range, (tuple, list)) and len(value_range) == 2:
        try:
            pair = (float(value_range[0]), float(value_range[1]))
        except (TypeError, ValueError):
            pair = None
        if pair in ((-1.0, 1.0), (0.0, 1.0)):
            return (int(pair[0]), int(pair[1]))
    raise ValueError(
        f"value_range {value_range!r} is not supported; use (-1, 1), (0, 1) "
        "or an integer K >= 2 for K quantised levels."
    )


def to_unit(images, value_range):
    """Inverse of ``data.scale``: back to [0, 1] floats (levels map to bin centres)."""
    value_range = check_value_range(value_range)
    images = np.asarray(images, dtype=np.float32)
    if isinstance(value_range, int):
        return (images + 0.5) / value_range
    low, high = value_range
    return (images - low) / (high - low)
