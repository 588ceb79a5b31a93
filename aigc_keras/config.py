"""Run settings shared by the package, the notebooks and the command line: modes, seeds, outputs.

* Notebook modes: ``quick`` (``AIGC_QUICK=1``; tests and CI), ``standard`` (the default; what the
  committed notebook outputs come from) and ``full`` (``AIGC_MODE=full``; longer training for a
  GPU).  The same code runs in every mode: only data sizes, step counts and sample counts change,
  through :func:`pick`.
* The output folder (``AIGC_OUTPUT``, default ``outputs/``): checkpoints, sample grids, cached
  classifiers and statistics.  Point it at Google Drive on Colab so training survives a disconnect.
* Seeding.
* :func:`start_tensorflow`: TensorFlow imported without its C++ start-up lines on stderr.
* :func:`measured`: a notebook's measurement made once per output folder, reused on a re-run.
* :func:`file_lock`: one process at a time through a check-compute-save of a shared cache.

Precision, XLA and strategy live in :mod:`aigc_keras.hardware`, value checks in
:mod:`aigc_keras.validation`; their old names here still work for one release, with a
``DeprecationWarning``.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import pathlib
import random
import sys
import tempfile
import time
import warnings

import numpy as np

from . import validation

try:
    import fcntl
except ImportError:  # Windows: file_lock() holds no lock there
    fcntl = None

MODES = ("quick", "standard", "full")


def mode() -> str:
    """The notebook mode: ``AIGC_QUICK=1`` wins, then ``AIGC_MODE``, else ``standard``.

    Returns:
        One of :data:`MODES`.
    """
    quick = os.environ.get("AIGC_QUICK", "").strip().lower()
    if quick in ("1", "true", "yes", "on"):
        return "quick"
    if quick not in ("", "0", "false", "no", "off"):  # AIGC_QUICK=2 ran in standard mode
        raise ValueError(
            f"AIGC_QUICK={quick!r} is neither on (1, true, yes, on) nor off (0, false, no, off, "
            "or unset)."
        )
    value = os.environ.get("AIGC_MODE", "standard").strip().lower() or "standard"
    if value not in MODES:
        raise ValueError(f"AIGC_MODE={value!r} is not a mode; use one of {', '.join(MODES)}.")
    return value


def is_quick() -> bool:
    """Whether the run is in quick mode (tests and CI)."""
    return mode() == "quick"


def pick(*, quick, standard, full=None):
    """The value for the current mode.

    Notebooks write ``STEPS = pick(quick=20, standard=600, full=5000)`` so every value shows what
    it is in each mode.

    Args:
        quick: the value in quick mode.
        standard: the value in standard mode.
        full: the value in full mode (default: ``standard``).

    Returns:
        The value for :func:`mode`.
    """
    return {"quick": quick, "standard": standard, "full": standard if full is None else full}[
        mode()
    ]


def output_dir(*parts: str, create: bool = True) -> pathlib.Path:
    """The output folder (``AIGC_OUTPUT`` or ``outputs/``), or a sub-folder of it.

    Args:
        *parts: sub-folder names.
        create: make the folder if it does not exist.

    Returns:
        The folder's path.
    """
    root = pathlib.Path(os.environ.get("AIGC_OUTPUT", "outputs")).expanduser()
    path = root.joinpath(*parts)
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def save_npz(path, **arrays) -> pathlib.Path:
    """Write ``arrays`` to the ``.npz`` file ``path`` atomically (a cache the package keeps).

    Written to a temporary file named after this process, then renamed over ``path``: a reader
    never sees half a file, and two processes writing the same cache at once never write into
    one temporary file.

    Args:
        path: the file to write; its folder must exist.
        **arrays: the arrays, by name.

    Returns:
        ``path`` as a ``pathlib.Path``.
    """
    path = pathlib.Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(tmp, path)
    finally:
        if tmp.is_file():
            tmp.unlink()
    return path


def _plain(value, what: str):
    """``value`` as JSON would give it back (tuples as lists, NumPy numbers and arrays as Python
    numbers and lists), or a ``ValueError`` naming what JSON cannot hold."""

    def convert(item):
        if isinstance(item, (np.generic, np.ndarray)):
            return item.tolist()
        raise TypeError(type(item).__name__)

    try:
        return json.loads(json.dumps(value, default=convert))
    except TypeError as error:
        raise ValueError(
            f"{what} should be JSON data (dicts with string keys, lists, strings, numbers, "
            f"booleans, None; NumPy numbers and arrays are converted), got a value of type "
            f"{error.args[0]}."
        ) from None
    except ValueError as error:  # a circular reference
        raise ValueError(f"{what} cannot be written as JSON: {error}.") from None


def measured(path, measure, *, settings=None):
    """A measurement made once per output folder: ``measure()``'s result, written to ``path`` the
    first time and read back when the same cell runs again.

    For notebook cells that only measure (a speed, a comparison's figures) and would repeat that
    work on every re-run, such as a re-run after a disconnect.  The file keeps the result with the
    ``settings`` it was measured under and the machine's environment line
    (:func:`aigc_keras.hardware.environment_report`: library versions, device, precision, mode);
    the result is reused only when both are the same again, and a reuse says where it came from.
    Otherwise, or when the file is not such a record, ``measure`` runs again and the file is
    replaced (written atomically).  Delete the file to measure again.

    Args:
        path: the JSON file (missing folders are created).
        measure: a function of no arguments returning JSON data: dicts with string keys, lists,
            strings, numbers, booleans, ``None``; NumPy numbers and arrays are converted.
        settings: JSON data describing what is measured (sizes, seeds, a model's configuration;
            for figures of a trained model, its :func:`aigc_keras.judges.weights_hash`).

    Returns:
        The result as JSON gives it back (tuples become lists), the same on the first run and
        on a re-run.

    Raises:
        ValueError: ``path`` is a folder, ``measure`` is not callable, or the settings or the
            result are not JSON data.
    """
    from . import hardware  # hardware imports this module

    if not callable(measure):
        raise ValueError(f"measure should be a function of no arguments, got {measure!r}.")
    path = pathlib.Path(path)
    if path.is_dir():
        raise ValueError(
            f"path should name a file for the measurement, got the folder {str(path)!r}."
        )
    key = {"settings": _plain(settings, "settings"), "environment": hardware.environment_report()}
    if path.exists():
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            found = {"settings": saved["settings"], "environment": saved["environment"]}
            result, when = saved["result"], saved["measured"]
        except (ValueError, KeyError, TypeError) as error:
            print(f"aigc_keras: {path} is not a measurement record ({error!r}): measuring again.")
        else:
            if found == key:
                print(
                    f"aigc_keras: reusing the measurement of {when} in {path} "
                    "(delete it to measure again)."
                )
                return result
            changed = " and ".join(k for k in ("settings", "environment") if found[k] != key[k])
            print(f"aigc_keras: {path} was measured with other {changed}: measuring again.")
    result = _plain(measure(), "measure()'s result")
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {**key, "measured": time.strftime("%Y-%m-%d %H:%M"), "result": result}
    write_text_atomically(path, json.dumps(record, indent=1))
    return result


def write_text_atomically(path, text: str) -> pathlib.Path:
    """Write ``text`` to ``path`` (UTF-8) through a temporary file named after this process,
    renamed over ``path``: a reader never sees half a file (the package's JSON records, a notebook
    executed in place); its folder must exist."""
    path = pathlib.Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.is_file():
            tmp.unlink()
    return path


@contextlib.contextmanager
def file_lock(path):
    """Hold an exclusive lock on the file ``path`` for the ``with`` block (other processes wait).

    Guards a check-compute-save of a shared cache (the judges' classifier, the tests' trainings) so
    that of two processes that both miss the cache, one computes and saves while the other waits,
    then finds the result.  An advisory ``fcntl.flock`` lock: it only excludes others who take it
    too.  The lock file is created if missing and left in place (deleting it would race with a
    waiting process); the operating system drops the lock when the process dies.  Not re-entrant:
    taking the same lock again inside the block, in the same process, waits forever.  Where
    ``fcntl`` does not exist (Windows) the block runs without a lock: concurrent runs may then
    both compute (each saves atomically, so neither reads a half-written file).

    Args:
        path: the lock file; missing parent folders are created.

    Yields:
        The lock file's path, a ``pathlib.Path``.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield path
        return
    with open(path, "a+b") as handle:  # "a": never truncates the file another process holds
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield path
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def set_seed(seed: int = 0) -> int:
    """Seed Python, NumPy, TensorFlow and Keras' global generator.

    Args:
        seed: a non-negative integer.

    Returns:
        The seed.
    """
    seed = validation.check_seed(seed)
    import keras

    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)  # also seeds tf.random
    return seed


def start_tensorflow(log_level: str = "2"):
    """Import TensorFlow and find the devices, keeping TensorFlow's C++ start-up lines off
    stderr; returns the ``tensorflow`` module.

    TensorFlow writes some lines from C++ before it reads ``TF_CPP_MIN_LOG_LEVEL`` (the absl
    pre-initialisation warning, oneDNN's notice, and on a machine without a GPU the CUDA probe's
    ``failed call to cuInit``): harmless, but a learner's first cell should not open on what reads
    like an error.  The process's stderr (file descriptor 2, where C++ writes) goes to a temporary
    file during the import and the device search; if either fails, what was written is replayed to
    stderr before the error is raised, so nothing that explains a failure is lost.  Later messages
    are not touched.  Call it before anything else imports TensorFlow; after that it only returns
    the module.

    Args:
        log_level: ``TF_CPP_MIN_LOG_LEVEL`` when the environment does not set it already ("2" hides
            TensorFlow's informational lines and warnings, not its errors).

    Returns:
        The ``tensorflow`` module.
    """
    if log_level not in ("0", "1", "2", "3"):
        raise ValueError(f"log_level should be one of '0', '1', '2', '3', got {log_level!r}")
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", log_level)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            sys.stderr.flush()
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return tf


# Names that moved out of this module while 0.1.0 was being written: they keep working until 0.2.
_MOVED = {
    **dict.fromkeys(("is_int", "check_int", "check_value_range", "to_unit"), "validation"),
    **dict.fromkeys(
        (
            "PRECISIONS",
            "RECIPE_BATCH",
            "XLA_MIN_GAIN",
            "BF16_MIN_GAIN",
            "BF16_CPU_FLAGS",
            "cpu_flags",
            "cpu_bf16_gain",
            "cpu_xla_gain",
            "default_precision",
            "set_precision",
            "precision_scope",
            "precision_report",
            "precision",
            "default_batch_size",
            "set_jit_compile",
            "jit_compile",
            "xla_report",
            "gpus",
            "strategy",
            "split_cpu",
            "environment_report",
        ),
        "hardware",
    ),
}


def __getattr__(name):
    if name in _MOVED:
        home = _MOVED[name]
        warnings.warn(
            f"aigc_keras.config.{name} moved to aigc_keras.{home}.{name}; the old name "
            "goes away in the next release.",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(f"aigc_keras.{home}"), name)
    raise AttributeError(f"module 'aigc_keras.config' has no attribute {name!r}")
