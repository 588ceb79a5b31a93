"""The chapter notebooks as files: execute one in a mode and read back how long it took.

A notebook is committed executed in standard mode.  :func:`execute` runs it (in a fresh kernel,
``AIGC_MODE`` set) and writes what ran it into the notebook's metadata (``aigc_keras``: mode,
machine, date); the cells' own timing metadata, which the executor records, gives the time.
:func:`standard_minutes` is the one place that time is read: the notebook's opening cell and the
README's chapter table quote it, and a test compares both with it.

Every notebook opens with the same set-up cell, :func:`setup_cell`, which names the release
(repository and tag) that ``pyproject.toml`` holds; ``setup-cell`` writes it into the notebooks
after a version change (their outputs are kept: off Colab the cell does what it did).

Each figure's alt text lives in its cell's metadata (:func:`set_alt_texts`, checked by
:func:`figure_alt_texts`), so that it survives re-execution; the website puts it on the image.

    python -m aigc_keras.chapters execute notebooks/02_gan.ipynb        # standard mode
    python -m aigc_keras.chapters minutes notebooks/*.ipynb
    python -m aigc_keras.chapters setup-cell notebooks/*.ipynb          # after a version change
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import warnings

from . import config
from .validation import check_int

MODES = ("quick", "standard", "full")
# The Drive folder where a teacher leaves the wheel for a class (the README names it).
DRIVE_WHEELS = "/content/drive/MyDrive/aigc_keras"

_SETUP_CELL = """\
# Set-up. On Colab: install aigc_keras (a wheel named by AIGC_WHEEL or left in Drive's
# MyDrive/aigc_keras, else release <TAG> from GitHub).
# Everywhere: TensorFlow started quietly, seeds, the environment line.
import glob, os, subprocess, sys, time
START = time.time()
if "google.colab" in sys.modules:
    RELEASE, REPOSITORY = "<TAG>", "<REPOSITORY>"
    DRIVE, WHEEL = "<DRIVE>", os.environ.get("AIGC_WHEEL")
    if WHEEL and not os.path.isfile(WHEEL):
        raise FileNotFoundError(f"AIGC_WHEEL names {WHEEL!r}, which is not a file")
    wheels = [WHEEL] if WHEEL else glob.glob(f"{DRIVE}/aigc_keras-*.whl")
    wheels.sort(key=os.path.getmtime)
    source = wheels[-1] if wheels else f"aigc_keras @ git+{REPOSITORY}@{RELEASE}"
    print("installing aigc_keras from", source)
    if subprocess.run([sys.executable, "-m", "pip", "install", "-q", source]).returncode:
        raise RuntimeError(f"pip could not install aigc_keras from {source}: is the network up, "
                           f"and does {REPOSITORY} have the tag {RELEASE}? A wheel works offline: "
                           f"set AIGC_WHEEL to its path or put it in {DRIVE}.")
    print("Checkpoints go to AIGC_OUTPUT (default ./outputs, lost when Colab disconnects). To keep "
          "them, mount Drive (from google.colab import drive; drive.mount('/content/drive')) "
          f"and run %env AIGC_OUTPUT={DRIVE}/outputs before training.")

from aigc_keras import config, hardware
config.start_tensorflow()  # TensorFlow's C++ notices go to a log, replayed only if the import fails
import numpy as np
import matplotlib.pyplot as plt
config.set_seed(0)
print(hardware.environment_report())"""


def _load(path) -> dict:
    path = pathlib.Path(path)
    if path.suffix != ".ipynb" or not path.is_file():
        raise ValueError(f"{str(path)!r} is not a notebook file (*.ipynb).")
    return json.loads(path.read_text(encoding="utf-8"))


def release(pyproject) -> dict:
    """The release a checkout describes, from its ``pyproject.toml``: ``version``, ``tag`` (``v``
    and the version) and ``repository`` (``[project.urls] Repository``)."""
    import tomllib

    path = pathlib.Path(pyproject)
    if not path.is_file():
        raise ValueError(f"no pyproject.toml at {str(path)!r}; run from the repository's root.")
    project = tomllib.loads(path.read_text(encoding="utf-8"))["project"]
    version = project["version"]
    return {"version": version, "tag": f"v{version}", "repository": project["urls"]["Repository"]}


def setup_cell(repository: str, tag: str) -> str:
    """The source of every notebook's first code cell, installing release ``tag`` on Colab."""
    return (
        _SETUP_CELL.replace("<TAG>", tag)
        .replace("<REPOSITORY>", repository)
        .replace("<DRIVE>", DRIVE_WHEELS)
    )


def colab_url(repository: str, tag: str, notebook: str) -> str:
    """The "Open in Colab" address of ``notebook`` (a path in the repository) at release ``tag``."""
    owner_name = repository.removeprefix("https://github.com/").strip("/")
    return f"https://colab.research.google.com/github/{owner_name}/blob/{tag}/{notebook}"


def _notebook_text(notebook) -> str:
    """The file ``nbformat.write`` would write for ``notebook``."""
    import nbformat

    text = nbformat.writes(notebook)
    return text if text.endswith("\n") else text + "\n"


def write_setup_cell(path, repository: str, tag: str) -> bool:
    """Make a notebook's first code cell :func:`setup_cell`; returns whether the file changed."""
    import nbformat

    path = pathlib.Path(path)
    _load(path)
    notebook = nbformat.read(path, as_version=4)
    cell = next((c for c in notebook.cells if c.cell_type == "code"), None)
    if cell is None:
        raise ValueError(f"{path} has no code cell to make the set-up cell.")
    if cell.source == setup_cell(repository, tag):
        return False
    cell.source = setup_cell(repository, tag)
    config.write_text_atomically(path, _notebook_text(notebook))
    return True


# Alt text of a code cell's figures: ``cell.metadata["aigc_keras"]["alt"]``, one text per image
# output, in output order.  Cell metadata survives re-execution (the images do not), and the site
# (docs/conf.py) gives each <img> its text through :func:`figure_alt_texts`.
_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif")


def _image_outputs(cell) -> list[bytes]:
    """The bytes of each image a code cell's outputs hold, in order (base64 decoded)."""
    import base64

    found = []
    for output in cell.get("outputs", []):
        kinds = [kind for kind in output.get("data", {}) if kind.startswith("image/")]
        if not kinds:
            continue
        if len(kinds) > 1 or kinds[0] not in _IMAGE_TYPES:
            raise ValueError(
                f"an output of {kinds}: alt text covers one of {_IMAGE_TYPES} per output"
            )
        content = output["data"][kinds[0]]
        found.append(base64.b64decode("".join(content) if isinstance(content, list) else content))
    return found


def figure_alt_texts(notebook) -> dict[str, str]:
    """Every figure's alt text, keyed by the SHA-256 of its image bytes (the name myst-nb gives
    the image file on the site).

    Args:
        notebook: a ``.ipynb`` path, or the notebook as a dict.

    Raises:
        ValueError: naming the cell, if a code cell's alt texts do not match its image outputs
            one for one, an alt text is not a non-empty string, or one image has two texts.
    """
    import hashlib

    cells = (notebook if isinstance(notebook, dict) else _load(notebook))["cells"]
    texts: dict[str, str] = {}
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        try:
            images = _image_outputs(cell)
        except ValueError as error:
            raise ValueError(f"cell {index}: {error}") from None
        alt = cell.get("metadata", {}).get("aigc_keras", {}).get("alt", [])
        if not isinstance(alt, list) or len(alt) != len(images):
            raise ValueError(
                f"cell {index} shows {len(images)} image(s) but its metadata "
                f"aigc_keras.alt holds {alt!r}: give one alt text per image, in output order "
                "(chapters.set_alt_texts writes them)."
            )
        for image, text in zip(images, alt, strict=True):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"cell {index}: alt text {text!r} is not a non-empty string.")
            key = hashlib.sha256(image).hexdigest()
            if texts.get(key, text) != text:
                raise ValueError(f"cell {index} shows an image shown before with other alt text.")
            texts[key] = text
    return texts


def set_alt_texts(path, texts: dict) -> None:
    """Write alt texts into a notebook's cell metadata: ``{cell index: [text per image]}``.

    The notebook's outputs and sources are left as they are; :func:`figure_alt_texts` then checks
    the whole notebook, and nothing is written unless it passes.
    """
    import nbformat

    path = pathlib.Path(path)
    _load(path)
    notebook = nbformat.read(path, as_version=4)
    for index, alt in texts.items():
        index = check_int(index, "a cell index", minimum=0)
        if index >= len(notebook.cells):
            raise ValueError(f"{path} has {len(notebook.cells)} cells, no cell {index}.")
        cell = notebook.cells[index]
        if cell.cell_type != "code":
            raise ValueError(f"cell {index} of {path} is {cell.cell_type}, not code.")
        if isinstance(alt, str) or not isinstance(alt, list | tuple):
            raise ValueError(f"cell {index}: give a list of alt texts, one per image, got {alt!r}.")
        cell.metadata.setdefault("aigc_keras", {})["alt"] = list(alt)
    figure_alt_texts(json.loads(_notebook_text(notebook)))
    config.write_text_atomically(path, _notebook_text(notebook))


def _when(stamp: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def executed_seconds(notebook: dict) -> float:
    """Seconds from the first code cell's start to the last one's end, from the timing metadata
    the executor records in each cell.

    Raises:
        ValueError: if a code cell has no timing metadata (the notebook was not executed, or was
            executed without ``record_timing``).
    """
    cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    if not cells:
        raise ValueError("the notebook has no code cell.")
    timings = [c.get("metadata", {}).get("execution", {}) for c in cells]
    if any("iopub.execute_input" not in t or "shell.execute_reply" not in t for t in timings):
        raise ValueError(
            "the notebook has a code cell without timing metadata: execute it with "
            "`python -m aigc_keras.chapters execute` (or nbconvert, which records timings)."
        )
    start = _when(timings[0]["iopub.execute_input"])
    end = _when(timings[-1]["shell.execute_reply"])
    return (end - start).total_seconds()


def run_info(path) -> dict:
    """What executed the notebook (``mode``, ``machine``, ``date``), from its metadata."""
    info = _load(path).get("metadata", {}).get("aigc_keras")
    if not info:
        raise ValueError(
            f"{str(path)!r} has no aigc_keras execution metadata: execute it with "
            "`python -m aigc_keras.chapters execute`."
        )
    return info


def standard_minutes(path) -> float:
    """Minutes the committed standard-mode execution of a notebook took (its timing metadata).

    Raises:
        ValueError: if the notebook was not executed by :func:`execute` in standard mode, or has
            no timing metadata.
    """
    info = run_info(path)
    if info.get("mode") != "standard":
        raise ValueError(
            f"{str(path)!r} was executed in {info.get('mode')!r} mode, not 'standard'."
        )
    return executed_seconds(_load(path)) / 60.0


def machine() -> str:
    """A short description of this machine's processor and core count."""
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores"


def execute(path, mode: str = "standard", *, timeout: int = 1800) -> float:
    """Execute a notebook in place in a fresh kernel in ``mode``; returns the minutes it took.

    The kernel inherits ``AIGC_MODE=<mode>`` (and no ``AIGC_QUICK``).  A cell that fails stops the
    run and the notebook file is left as it was.

    Args:
        path: the ``.ipynb`` file.
        mode: ``"quick"``, ``"standard"`` or ``"full"``.
        timeout: the longest one cell may run, in seconds.
    """
    import nbformat
    from nbclient import NotebookClient

    if mode not in MODES:
        raise ValueError(f"mode should be one of {', '.join(MODES)}, got {mode!r}.")
    timeout = check_int(timeout, "timeout (seconds a cell may run)")  # nbclient: <= 0 is no limit
    path = pathlib.Path(path)
    _load(path)
    notebook = nbformat.read(path, as_version=4)
    saved = {key: os.environ.get(key) for key in ("AIGC_MODE", "AIGC_QUICK")}
    os.environ["AIGC_MODE"] = mode
    os.environ.pop("AIGC_QUICK", None)
    try:
        NotebookClient(
            notebook,
            timeout=timeout,
            kernel_name="python3",
            record_timing=True,
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    notebook.metadata["aigc_keras"] = {
        "mode": mode,
        "machine": machine(),
        "date": datetime.date.today().isoformat(),
    }
    config.write_text_atomically(path, _notebook_text(notebook))
    try:
        figure_alt_texts(path)
    except ValueError as error:  # the run is kept; its figures need their alt text written
        warnings.warn(f"{path}: {error}", stacklevel=2)
    return executed_seconds(json.loads(path.read_text(encoding="utf-8"))) / 60.0


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m aigc_keras.chapters", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("execute", help="execute notebooks in place")
    run.add_argument("notebooks", nargs="+")
    run.add_argument("--mode", choices=MODES, default="standard")
    run.add_argument("--timeout", type=int, default=1800, help="seconds one cell may run")
    show = sub.add_parser("minutes", help="print each notebook's standard-mode minutes")
    show.add_argument("notebooks", nargs="+")
    cell = sub.add_parser("setup-cell", help="write the set-up cell of pyproject.toml's release")
    cell.add_argument("notebooks", nargs="+")
    cell.add_argument("--pyproject", default="pyproject.toml")
    args = parser.parse_args(argv)
    try:
        _run(args)
    except ValueError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")


def _run(args) -> None:
    if args.command == "setup-cell":
        info = release(args.pyproject)
        for name in args.notebooks:
            changed = write_setup_cell(name, info["repository"], info["tag"])
            print(f"{name}: {'written' if changed else 'already'} {info['tag']}")
        return
    for name in args.notebooks:
        if args.command == "execute":
            print(f"{name}: {execute(name, args.mode, timeout=args.timeout):.1f} min ({args.mode})")
        else:
            print(f"{name}: {standard_minutes(name):.1f} min")


if __name__ == "__main__":
    main()
