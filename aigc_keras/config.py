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

import contextlib
import os
import pathlib
import random

import numpy as np

MODES = ("quick", "standard", "full")

_state = {"jit_compile": None, "strategy": None, "precision_chosen": False, "precision_set": "float32"}


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
# The recipe batch size of every model's defaults (the learning rates were set for it).
RECIPE_BATCH = 64


# mixed_bfloat16 on a CPU, per model (by class, as for XLA below): fit() images/s in mixed_bfloat16 over float32,
# both in graph mode, steady state, geometric mean over the sizes the model is trained at (its chapter's size and
# the test matrix's: benchmarks.harness.SIZES), from the benchmark on the CPU this project runs on (2-core AMD
# EPYC with AVX512_BF16, TensorFlow 2.21, 2026-11-25; `benchmarks.run.bf16_gains` computes them).  The gain grows
# with the image size (DCGAN 1.29x at 28x28, 1.39x at 64x64; VAE 1.00x and 1.17x), so one size would misjudge.
# A CPU with bfloat16 instructions (AVX512_BF16 or AMX) runs a model in mixed_bfloat16 by default where this is at
# least BF16_MIN_GAIN; below that bar the gain is within the run-to-run noise of a shared CPU (5-7% here) and
# float32's precision is kept.  CycleGAN: its float32 default is XLA, which bfloat16 in graph mode does not beat.
# The variables stay float32 under mixed_bfloat16 and there is no loss scaling, so a checkpoint resumes across
# the two (a Colab runtime that reconnects on another CPU).  A CPU without those instructions emulates bfloat16:
# the project's earlier CPU ran it about 7x slower than float32, so there every model stays float32.
CPU_BF16_GAIN = {
    "CNNClassifier": 1.77, "DCGAN": 1.30, "ConditionalGAN": 1.22, "WGANGP": 1.28, "VAE": 1.06,
    "ConditionalVAE": 1.12, "VAEGAN": 1.14, "StyleGAN": 1.35, "CycleGAN": 1.07, "PixelCNN": 1.44,
    "Inpainter": 1.23, "SuperResolution": 1.21, "Denoiser": 1.45,
}
BF16_MIN_GAIN = 1.10
# Models that keep float32 although mixed_bfloat16 measured faster: under it they fail their quality test here.
CPU_BF16_FAILS_QUALITY = {
    "VAEGAN": "its samples' domain FID was 150.3 in mixed_bfloat16 against 128.0 in float32, and no longer beat "
              "the VAE's 147.7 (tests/test_vae.py, 2026-11-25)",
}
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags() -> frozenset:
    """The CPU's feature flags (Linux ``/proc/cpuinfo``; empty elsewhere, where no bfloat16 default is made)."""
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


def cpu_bf16_gain(model):
    """The measured mixed_bfloat16 / float32 speed ratio on a CPU for a model (instance or class), or ``None``."""
    return _table_entry(CPU_BF16_GAIN, model)


def default_precision(model=None) -> str:
    """The fastest correct dtype policy for the hardware found (``model``: an instance or class; ``None``: models
    in general).

    * CPU with bfloat16 instructions (AVX512_BF16, AMX): ``mixed_bfloat16`` for the models listed in
      :data:`CPU_BF16_GAIN` at least ``BF16_MIN_GAIN`` faster and not in :data:`CPU_BF16_FAILS_QUALITY`, in graph
      mode; ``float32`` for the others, for a model under XLA (``--xla on``; the gains were measured in graph
      mode, and XLA's CPU compiler rejects StyleGAN's bfloat16 gradient) and for models in general.  The
      chapter-1 classifier that judges the other models (``cnn.load_classifier``) is float32 everywhere, so
      scores do not depend on the machine.
    * Other CPUs: ``float32``.  Both mixed policies run there but slower: the CPU has no half-precision
      arithmetic and pays for the casts (the benchmark measures it).
    * NVIDIA GPU with tensor cores (compute capability 7.0 or newer; Colab's T4, L4, A100):
      ``mixed_float16``, with dynamic loss scaling (the models wrap their optimizers in
      ``LossScaleOptimizer``); expected 1.5-3x faster convolutions and half the activation memory.
      Older GPUs (K80, P100): ``float32``, since float16 there has no tensor cores to use.
    * TPU: ``mixed_bfloat16`` (bfloat16 is the TPU's native type and needs no loss scaling).
    """
    import tensorflow as tf

    if tf.config.list_physical_devices("TPU"):  # physical: listing logical devices would start the runtime
        return "mixed_bfloat16"
    gpu_list = gpus()
    for gpu in gpu_list:
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0))
        if tuple(capability) >= (7, 0):
            return "mixed_float16"
    if gpu_list or model is None or not cpu_flags() & set(BF16_CPU_FLAGS):
        return "float32"
    if jit_compile(model):  # the gains are graph-mode figures; XLA with bfloat16 failed StyleGAN's gradient here
        return "float32"
    return "mixed_bfloat16" if _bf16_on_cpu(model) else "float32"


def _bf16_on_cpu(model) -> bool:
    """Whether a model (instance, class or class name) measured at least BF16_MIN_GAIN faster in mixed_bfloat16 on a
    CPU and keeps its quality there."""
    gain = cpu_bf16_gain(model)
    return gain is not None and gain >= BF16_MIN_GAIN and _table_entry(CPU_BF16_FAILS_QUALITY, model) is None


def set_precision(policy: str = "float32") -> str:
    """Set Keras' global dtype policy for the models made from now on; ``"auto"`` returns to the hardware's
    default (:func:`default_precision`), which each model then applies for itself when it is made.

    ``mixed_float16`` suits NVIDIA GPUs (models then scale their losses with
    ``keras.optimizers.LossScaleOptimizer``); ``mixed_bfloat16`` suits TPUs, recent GPUs and CPUs with
    bfloat16 instructions; ``float32`` the other CPUs.  A model made before this call keeps its policy.
    """
    if policy != "auto" and policy not in PRECISIONS:
        raise ValueError(f"precision {policy!r} is not supported; use 'auto' or one of {', '.join(PRECISIONS)}.")
    import keras

    chosen = policy != "auto"
    if not chosen:
        policy = default_precision()
    keras.mixed_precision.set_global_policy(policy)
    _state["precision_chosen"], _state["precision_set"] = chosen, policy
    return policy


def _user_chose_precision() -> bool:
    """Whether the global policy is the user's (set by :func:`set_precision`, or straight through Keras)."""
    import keras

    return _state["precision_chosen"] or keras.mixed_precision.global_policy().name != _state["precision_set"]


def apply_default_precision(model=None) -> str:
    """Set the hardware's default policy for ``model`` (its class) unless the user chose one, by
    :func:`set_precision` or by Keras' ``set_global_policy``; the models call this when they are made, before
    their layers.  Returns the policy the model is made under."""
    import keras

    if _user_chose_precision():
        return precision()
    wanted = default_precision(model)
    if wanted != precision():
        keras.mixed_precision.set_global_policy(wanted)
        _state["precision_set"] = wanted
    return wanted


@contextlib.contextmanager
def precision_scope(policy: str):
    """Make models under ``policy`` inside the ``with`` block, then restore the policy and the choice before it."""
    import keras

    before = keras.mixed_precision.global_policy().name, _state["precision_chosen"], _state["precision_set"]
    set_precision(policy)
    try:
        yield policy
    finally:
        keras.mixed_precision.set_global_policy(before[0])
        _state["precision_chosen"], _state["precision_set"] = before[1:]


def precision_report(model=None) -> str:
    """The precision part of the environment line, for one model (instance or class) or for models in general."""
    if model is not None:
        if not isinstance(model, type):  # a model made: the policy it was made under
            name = model.dtype_policy.name
            default = name == default_precision(model)
        else:  # a model to be made: the policy it will take
            default = not _user_chose_precision()
            name = default_precision(model) if default else precision()
        return f"precision {name}" + (f" (hardware default for {_class(model).__name__})" if default else "")
    if _user_chose_precision():
        return f"precision {precision()}"
    general = default_precision()
    if general == "float32" and cpu_flags() & set(BF16_CPU_FLAGS) and not gpus():
        listed = [name for name in CPU_BF16_GAIN if _bf16_on_cpu(name)]
        return f"precision per model (hardware default: mixed_bfloat16 for {', '.join(listed)}; float32 otherwise)"
    return f"precision {general} (hardware default)"


def precision() -> str:
    import keras

    return keras.mixed_precision.global_policy().name


def default_batch_size(recipe: int = RECIPE_BATCH) -> int:
    """The global batch for the active strategy: the recipe's batch per replica.

    One device (CPU, one GPU): the recipe's batch (64 for most models), the size the learning rates
    were set for; a larger batch is faster per image on a GPU but would need a retuned learning rate,
    so it is not the default.  Several replicas (``MirroredStrategy``, TPU): ``recipe`` per replica,
    the usual scaling, so each device stays as busy as one device alone.
    """
    import tensorflow as tf

    return check_int(recipe, "recipe") * tf.distribute.get_strategy().num_replicas_in_sync


# XLA on a CPU, per model (by class; a subclass takes its nearest listed base): fit() images/s with XLA over
# graph mode, steady state, at the chapter's size, from the benchmark on the CPU this project runs on
# (benchmarks/results: 2-core AMD EPYC with AVX-512, TensorFlow 2.21, 2026-11-25).  XLA is the CPU default
# where it is at least XLA_MIN_GAIN faster: its first fit() compiles for longer (3-15 s more here), and below
# that bar the gain is within the timing noise of a shared CPU while the compile cost is certain.
# The gain depends on the CPU, not only on the model: on the project's earlier 2-core EPYC (2026-11-24), whose
# graph-mode kernels ran about 4x slower, XLA measured 1.21-1.65x for DCGAN, ConditionalGAN, WGANGP, VAE,
# ConditionalVAE, StyleGAN and CycleGAN; on this one it loses for every model but CycleGAN.  On another CPU,
# run ``python -m benchmarks.run --parts throughput`` and choose with ``--xla on|off``.
# ``None``: the model cannot be compiled with XLA (see its ``xla_unsupported``).
CPU_XLA_GAIN = {
    "CNNClassifier": 0.55, "DCGAN": 0.84, "ConditionalGAN": 0.67, "WGANGP": 0.85, "VAE": 0.75,
    "ConditionalVAE": 0.79, "VAEGAN": 0.73, "StyleGAN": 0.71, "CycleGAN": 1.18, "PixelCNN": 0.62,
    "Inpainter": 0.43, "SuperResolution": None, "Denoiser": 0.58,
}
XLA_MIN_GAIN = 1.15


def set_jit_compile(value) -> None:
    """Choose XLA compilation for the models' ``compile()`` (``True``, ``False`` or ``"auto"``)."""
    if value not in (True, False, "auto", None):
        raise ValueError(f"jit_compile must be True, False or 'auto', got {value!r}.")
    _state["jit_compile"] = None if value == "auto" else value


def _class(model) -> type:
    return model if isinstance(model, type) else type(model)


def _table_entry(table: dict, model):
    """A per-model table's entry for a model (instance, class or class name): its own, or its nearest listed
    base's."""
    for name in [model] if isinstance(model, str) else [base.__name__ for base in _class(model).__mro__]:
        if name in table:
            return table[name]
    return None


def cpu_xla_gain(model):
    """The measured XLA / graph speed ratio on a CPU for a model (instance or class), or ``None`` if not listed."""
    return _table_entry(CPU_XLA_GAIN, model)


def jit_compile(model=None, *, quick=None) -> bool:
    """The XLA setting a model uses by default (``model``: the instance or class; ``None``: models in general).

    ``quick``: whether the run is a short one (default: quick mode, ``AIGC_QUICK=1``); a test that trains
    for thousands of steps in quick mode passes ``quick=False`` to train as a standard run does.

    * A model whose ``xla_unsupported`` names an op without an XLA kernel: off, always.
    * Set by :func:`set_jit_compile` (the command line's ``--xla``): that, for every other model.
    * GPU or TPU: on.  XLA fuses the many small element-wise ops of the GAN and VAE losses and of the
      normalisation layers into a few kernels; on a GPU the launch overhead they save is the larger cost
      (expected 1.2-2x per step, from the CPU figures and the usual GPU behaviour; not measured here).
    * CPU: per model, from :data:`CPU_XLA_GAIN` (on where XLA measured at least ``XLA_MIN_GAIN`` faster),
      except in quick mode, whose runs of a few dozen steps end before XLA repays its compile time.
    """
    if model is not None and getattr(_class(model), "xla_unsupported", ""):
        return False  # an op of this model has no XLA kernel: graph mode whatever was chosen
    if _state["jit_compile"] is not None:
        return bool(_state["jit_compile"])
    if gpus():
        return True
    if model is None or (is_quick() if quick is None else quick):
        return False
    gain = cpu_xla_gain(model)
    return gain is not None and gain >= XLA_MIN_GAIN


def xla_report(model=None) -> str:
    """The XLA part of the environment line, for one model (instance or class) or for models in general."""
    if model is not None:
        return f"XLA {'on' if jit_compile(model) else 'off'}" + (
            "" if _state["jit_compile"] is not None else f" (hardware default for {_class(model).__name__})")
    if _state["jit_compile"] is not None:
        return f"XLA {'on' if _state['jit_compile'] else 'off'}"
    if gpus():
        return "XLA on (hardware default)"
    if is_quick():
        return "XLA off (hardware default in quick mode)"
    on = [name for name, gain in CPU_XLA_GAIN.items() if gain is not None and gain >= XLA_MIN_GAIN]
    return f"XLA per model (hardware default: on for {', '.join(on)})"


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


def environment_report(model=None) -> str:
    """One line: versions, device, precision, XLA (for ``model``, a model instance or class, if given),
    strategy, mode."""
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
        f"{precision_report(model)} | "
        f"{xla_report(model)} | "
        f"batch: recipe x{tf.distribute.get_strategy().num_replicas_in_sync} replicas | "
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
