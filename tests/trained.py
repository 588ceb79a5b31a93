"""Train once per test run, across pytest-xdist workers.

``make test`` runs two workers (separate processes).  When tests in both need the same expensive
training, :func:`once` lets one worker train and save while the other waits, then loads::

    import trained

    model = trained.once_model("cgan_28_600", train=lambda: _train("cgan", 600), build=_fresh_cgan)
    figures = trained.once_json("cgan_28_600_scores", lambda: _scores(model))

Results live in ``<AIGC_OUTPUT>/trained/<name><suffix>``; an exclusive file lock on
``<name><suffix>.lock`` (:func:`aigc_keras.config.file_lock`) guards each check-train-save.  A
result is written under a temporary name and renamed into place, so a failed or killed training
leaves no partial file and the next call trains again.  Every caller, the one that trained
included, gets the result loaded back from the file: both workers see the same thing, and a
save/load pair that loses something fails in whichever worker trains, not only in the other one.

"Once per run": ``make test`` empties ``AIGC_OUTPUT`` first, and without ``AIGC_OUTPUT`` the
conftest makes a fresh folder per run.  A fixed ``AIGC_OUTPUT`` outside ``make test`` keeps the
results until the folder is deleted, so put what the training depends on (steps, sizes) in the
name.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
from collections.abc import Callable
from typing import Any, TypeVar

from aigc_keras import config

T = TypeVar("T")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def folder() -> pathlib.Path:
    """The folder of the stored results, ``<AIGC_OUTPUT>/trained`` (created if missing)."""
    return config.output_dir("trained")


def once(
    name: str,
    train: Callable[[], T],
    *,
    save: Callable[[T, pathlib.Path], Any],
    load: Callable[[pathlib.Path], T],
    suffix: str = "",
) -> T:
    """``train()`` once per run across processes; every caller gets ``load(<stored file>)``.

    Under the lock on ``<name><suffix>.lock``: if ``<name><suffix>`` exists it is loaded; otherwise
    ``train()`` runs, ``save(result, temporary_path)`` writes it (a file or a folder; the
    temporary path ends with ``suffix`` too, for savers that check the extension) and it is renamed
    into place, then loaded.  Not re-entrant: ``train`` must not ask for the same ``name``.

    Args:
        name: the result's name (letters, digits, ``_``, ``.``, ``-``); one name, one training.
        train: computes the result; an exception propagates and nothing is stored, so the next
            call trains again.
        save: writes a result to the given path.
        load: reads a result from the given path.
        suffix: the stored file's extension, e.g. ``".npz"``.

    Returns:
        What ``load`` returns for the stored file.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"name must be letters, digits, '_', '.' and '-', got {name!r}.")
    home = folder()
    target = home / f"{name}{suffix}"
    with config.file_lock(home / f"{name}{suffix}.lock"):
        if not target.exists():
            leftover = re.compile(re.escape(f".{name}.") + r"\d+" + re.escape(f".tmp{suffix}"))
            for stale in home.glob(f".{name}.*.tmp{suffix}"):  # a killed run's; none is live
                if leftover.fullmatch(stale.name):
                    _remove(stale)
            result = train()
            tmp = home / f".{name}.{os.getpid()}.tmp{suffix}"
            try:
                save(result, tmp)
                os.replace(tmp, target)
            finally:
                _remove(tmp)
        return load(target)


def _remove(path: pathlib.Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _plain(value):
    """NumPy scalars and arrays as JSON values (``json.dump``'s ``default``)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable: {value!r}")


def once_json(name: str, compute: Callable[[], Any]) -> Any:
    """:func:`once` for figures: ``compute()`` returns JSON-able data (NumPy values allowed).

    For several tests that judge the same trained model: the first computes the numbers, the
    others (in any worker) read them.

    Args:
        name: as for :func:`once`; stored as ``<name>.json``.
        compute: returns dicts, lists, strings, numbers, ``None``, NumPy scalars or arrays.

    Returns:
        The data as read back from JSON (tuples and arrays become lists, NumPy scalars numbers),
        the same in every process.
    """

    def save(value, path):
        path.write_text(json.dumps(value, default=_plain, indent=1), encoding="utf-8")

    def load(path):
        return json.loads(path.read_text(encoding="utf-8"))

    return once(name, compute, save=save, load=load, suffix=".json")


def _save_model(model, path: pathlib.Path) -> None:
    from aigc_keras.models.base import Checkpointable

    path.mkdir()
    if isinstance(model, Checkpointable):
        model.save_checkpoint(path / "checkpoint.npz")
    else:
        model.save_weights(path / "model.weights.h5")


def once_model(name: str, train: Callable[[], Any], build: Callable[[], Any]):
    """:func:`once` for a Keras model: ``train()`` returns it, ``build()`` makes a fresh one that
    the stored state is loaded into.

    ``build()`` must make the same class with the same configuration, under the same precision
    policy, as ``train()`` did (without training it); it runs after any training, so it does not
    change the random state the training starts from.  A model of the package
    (:class:`aigc_keras.models.base.Checkpointable`: every generative model and the classifier) is
    stored with ``save_checkpoint`` (every variable, seed-generator states and EMA weights
    included, every optimizer's state, the step counter) and loaded with ``load_checkpoint``, so
    ``build()`` must return it compiled; any other ``keras.Model`` is stored with ``save_weights``
    and loaded with ``load_weights``.  Stored as the folder ``<name>.model``.

    Args:
        name: as for :func:`once`.
        train: returns the trained model.
        build: returns a fresh model to load the stored state into.

    Returns:
        The model from ``build()`` with the stored state.
    """

    def load(path):
        model = build()
        if (path / "checkpoint.npz").exists():
            model.load_checkpoint(path / "checkpoint.npz")
        else:
            model.load_weights(path / "model.weights.h5")
        return model

    return once(name, train, save=_save_model, load=load, suffix=".model")
