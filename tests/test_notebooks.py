"""What every chapter notebook must be, read from its committed file (the notebook test in
notebooks/conftest.py executes them): no figure shown twice, every training watched through the
package's LiveTraining, text about the subject only, a clean first cell, show_code targets that
exist, the standard-mode time quoted where it is measured, exercises with worked solutions, and
chapter 8's table of the course's verdicts with every chapter's rows."""

import ast
import base64
import hashlib
import json
import pathlib
import re

import pytest

from aigc_keras import chapters, viz

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

PROCESS_WORDS = (
    "landed",
    "as they land",
    "committed run",
    "committed standard run",
    "separate run",
    "TODO",
    "FIXME",
)


def _cases():
    return [pytest.param(path, id=path.stem) for path in NOTEBOOKS]


def _cells(path, kind=None):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [
        (i, c, "".join(c["source"])) for i, c in enumerate(cells) if kind in (None, c["cell_type"])
    ]


def _python(source: str) -> ast.Module:
    """A code cell as Python: IPython's ``!`` and ``%`` lines are left out."""
    lines = [
        line[: len(line) - len(line.lstrip())] + "pass"
        if line.lstrip().startswith(("!", "%"))
        else line
        for line in source.splitlines()
    ]
    return ast.parse("\n".join(lines))


def _code_trees(path):
    return [(i, _python(source)) for i, _, source in _cells(path, "code")]


def _is_live_training(node) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute | ast.Name)
        and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
        == "LiveTraining"
    )


def test_the_checks_find_what_they_look_for(tmp_path):
    """Each check on a notebook made to fail it."""
    png = base64.b64encode(b"\x89PNG fake").decode()
    figure = {"output_type": "display_data", "data": {"image/png": png}, "metadata": {}}
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "source": "model.fit(data, callbacks=[ckpt])\nlive = callbacks.LiveTraining()\n",
                "outputs": [{"output_type": "stream", "name": "stderr", "text": "cuInit"}],
            },
            {
                "cell_type": "markdown",
                "metadata": {},
                "source": "As the chapters land, TODO: {MIN} minutes.",
            },
            {"cell_type": "code", "metadata": {}, "source": "plot()", "outputs": [figure] * 2},
            {
                "cell_type": "code",
                "metadata": {},
                "execution_count": 3,
                "source": "1 / 0",
                "outputs": [{"output_type": "error", "ename": "ZeroDivisionError"}],
            },
            {
                "cell_type": "code",
                "metadata": {},
                "source": "ckpt.restore(model)",
                "outputs": [
                    {"output_type": "stream", "name": "stdout", "text": "in /tmp/x/checkpoints"}
                ],
            },
        ],
        "metadata": {},
    }
    path = tmp_path / "bad.ipynb"
    path.write_text(json.dumps(notebook))
    assert _duplicate_images(path) == [2]
    assert _unwatched_fits(path) == [0]
    assert _process_words(path) == [(1, "TODO"), (1, "{MIN}")]
    assert _first_cell_stderr(path) == "cuInit"
    assert _unrun_or_failed(path) == ([0, 2, 4], [3])
    assert _machine_paths(path) == [(4, "/tmp/")]


def _unrun_or_failed(path):
    """Code cells never executed, and code cells whose outputs hold an error."""
    cells = _cells(path, "code")
    unrun = [i for i, c, _ in cells if c.get("execution_count") is None]
    failed = [
        i for i, c, _ in cells if any(o.get("output_type") == "error" for o in c.get("outputs", []))
    ]
    return unrun, failed


def _duplicate_images(path):
    found = []
    for i, cell, _ in _cells(path, "code"):
        digests = [
            hashlib.sha1(output["data"]["image/png"].encode()).hexdigest()
            for output in cell.get("outputs", [])
            if "image/png" in output.get("data", {})
        ]
        if len(digests) != len(set(digests)):
            found.append(i)
    return found


def _unwatched_fits(path):
    """Cells calling ``.fit(`` without a LiveTraining among its callbacks (a LiveTraining made
    inline, or a name the notebook binds to one)."""
    trees = _code_trees(path)
    live_names = {
        target.id
        for _, tree in trees
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and _is_live_training(node.value)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    found = []
    for i, tree in trees:
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "fit"
            ):
                continue
            given = [k.value for k in node.keywords if k.arg == "callbacks"]
            watched = any(
                _is_live_training(n) or (isinstance(n, ast.Name) and n.id in live_names)
                for value in given
                for n in ast.walk(value)
            )
            if not watched:
                found.append(i)
    return found


def _alt_texts(cell) -> str:
    return " ".join(cell.get("metadata", {}).get("aigc_keras", {}).get("alt", []))


def _process_words(path):
    """Process words and unfilled placeholders in the Markdown and in the figures' alt text."""
    found = []
    for i, cell, source in _cells(path):
        if cell["cell_type"] == "code":
            source = _alt_texts(cell)
        for word in PROCESS_WORDS:
            if re.search(rf"\b{re.escape(word)}\b", source, flags=0 if word.isupper() else re.I):
                found.append((i, word))
        # an unfilled {PLACEHOLDER} (not LaTeX's \mathbb{E} or \mathrm{KL})
        found += [(i, hole) for hole in re.findall(r"(?<![\w\\])\{[A-Z][A-Z_]{2,}\}", source)]
    return found


# Folders of the machine that executed a notebook, which a learner's run never prints: a
# temporary output folder (``AIGC_OUTPUT=/tmp/...``) or a home directory.
MACHINE_PATHS = re.compile(r"/tmp/|/var/folders/|/home/\w+/|/Users/\w+/|aigc_test_outputs_")


def _machine_paths(path):
    """Code cells whose text outputs name a folder of the machine that executed them."""
    found = []
    for i, cell, _ in _cells(path, "code"):
        for output in cell.get("outputs", []):
            text = "".join(output.get("text", "")) + "".join(
                output.get("data", {}).get("text/plain", "")
            )
            match = MACHINE_PATHS.search(text)
            if match:
                found.append((i, match.group()))
                break
    return found


def _first_cell_stderr(path):
    _, cell, _ = _cells(path, "code")[0]
    return "".join(
        "".join(o.get("text", ""))
        for o in cell.get("outputs", [])
        if o.get("output_type") == "stream" and o.get("name") == "stderr"
    )


def test_the_alt_text_checks_find_what_they_look_for(tmp_path):
    """Alt text missing, empty, or two texts for one image: each refused, naming the cell; a
    process word in it is found; written by set_alt_texts, each text is keyed by the image's
    SHA-256 (the name of the image's file on the site)."""
    images = [f"\x89PNG picture {n}".encode() for n in range(3)]
    outputs = [
        {"output_type": "display_data", "data": {"image/png": base64.b64encode(i).decode()}}
        for i in images
    ]
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": "Two figures below."},
            {"cell_type": "code", "source": "plot()", "outputs": outputs[:2]},
            {"cell_type": "code", "source": "again()", "outputs": outputs[1:]},
        ],
        "metadata": {},
    }
    with pytest.raises(ValueError, match=r"cell 1 shows 2 image\(s\)"):
        chapters.figure_alt_texts(notebook)
    notebook["cells"][1]["metadata"] = {"aigc_keras": {"alt": ["a first plot", " "]}}
    with pytest.raises(ValueError, match="cell 1: alt text ' ' is not a non-empty string"):
        chapters.figure_alt_texts(notebook)
    notebook["cells"][1]["metadata"]["aigc_keras"]["alt"] = ["a first plot", "a second plot"]
    notebook["cells"][2]["metadata"] = {"aigc_keras": {"alt": ["the second again", "a third"]}}
    with pytest.raises(ValueError, match="cell 2 shows an image shown before"):
        chapters.figure_alt_texts(notebook)
    path = tmp_path / "alt.ipynb"
    del notebook["cells"][2]["metadata"]["aigc_keras"]
    for n, cell in enumerate(notebook["cells"]):  # each cell as nbformat 4.5 writes it
        cell.setdefault("metadata", {})
        cell["id"] = f"cell-{n}"
        if cell["cell_type"] == "code":
            cell["execution_count"] = 1
    path.write_text(json.dumps({**notebook, "nbformat": 4, "nbformat_minor": 5}))
    written = path.read_bytes()
    for texts, refusal in (
        ({0: ["text"]}, "cell 0 of .* is markdown"),
        ({2: ["only one"]}, "cell 2 shows 2 image"),  # the whole notebook checked before writing
        ({2: "ab"}, "cell 2: give a list of alt texts"),  # a string is not two texts
        ({-1: ["a", "b"]}, "a cell index must be"),
        ({3: ["a"]}, "has 3 cells, no cell 3"),
    ):
        with pytest.raises(ValueError, match=refusal):
            chapters.set_alt_texts(path, texts)
        assert path.read_bytes() == written  # nothing written
    svg = {"output_type": "display_data", "data": {"image/svg+xml": "<svg/>"}, "metadata": {}}
    with pytest.raises(ValueError, match=r"cell 1: an output of \['image/svg\+xml'\]"):
        chapters.figure_alt_texts(
            {"cells": [notebook["cells"][0], {**notebook["cells"][1], "outputs": [svg]}]}
        )
    chapters.set_alt_texts(path, {2: ["a second plot", "a third plot, TODO"]})
    assert chapters.figure_alt_texts(path) == {
        hashlib.sha256(image).hexdigest(): text
        for image, text in zip(
            images, ["a first plot", "a second plot", "a third plot, TODO"], strict=True
        )
    }
    assert _process_words(path) == [(2, "TODO")]


def test_executing_a_notebook_warns_of_figures_without_alt_text(tmp_path):
    """A re-execution that leaves a figure without its text keeps the run and says so."""
    source = (
        "from IPython import display\n"
        "display.display(display.Image(data=b'\\x89PNG a picture', format='png'))"
    )
    path = tmp_path / "figure.ipynb"
    cell = {"cell_type": "code", "id": "a", "metadata": {}, "source": source, "outputs": []}
    cell["execution_count"] = None
    path.write_text(
        json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )
    with pytest.warns(UserWarning, match="figure.ipynb: cell 0 shows 1 image"):
        chapters.execute(path, "quick", timeout=60)
    (outputs,) = [c["outputs"] for c in json.loads(path.read_text())["cells"]]
    assert [list(o["data"]) for o in outputs] == [["image/png", "text/plain"]]  # the run kept


@pytest.mark.parametrize("path", _cases())
def test_every_figure_has_alt_text_of_its_own(path):
    """The site gives each figure the alt text kept in its cell's metadata: one per figure, none
    shared by two figures, each a sentence or more (40 to 500 characters)."""
    texts = list(chapters.figure_alt_texts(path).values())  # raises, naming a cell, if one lacks
    figures = sum(
        any(kind.startswith("image/") for kind in output.get("data", {}))
        for _, cell, _ in _cells(path, "code")
        for output in cell.get("outputs", [])
    )
    assert len(texts) == figures
    assert len(set(texts)) == len(texts), "two figures with the same alt text"
    assert [t for t in texts if not 40 <= len(t) <= 500] == []


@pytest.mark.parametrize("path", _cases())
def test_no_cell_shows_the_same_figure_twice(path):
    assert _duplicate_images(path) == [], "cells whose outputs hold one image twice"


@pytest.mark.parametrize("path", _cases())
def test_every_training_is_watched_through_live_training(path):
    assert _unwatched_fits(path) == [], "cells whose fit() has no callbacks.LiveTraining"


@pytest.mark.parametrize("path", _cases())
def test_the_text_is_about_the_subject(path):
    assert _process_words(path) == []


@pytest.mark.parametrize("path", _cases())
def test_no_output_names_the_executing_machine_s_folders(path):
    """The outputs show the paths a learner's run prints (``outputs/...``), not a temporary folder
    the notebook happened to be executed into."""
    assert _machine_paths(path) == []


@pytest.mark.parametrize("path", _cases())
def test_the_first_code_cell_writes_nothing_to_stderr(path):
    assert _first_cell_stderr(path) == ""


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_show_code_target_exists(path):
    targets = [
        node.args[0].value
        for _, tree in _code_trees(path)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("show_code", "code_of")
        and node.args
        and isinstance(node.args[0], ast.Constant)
    ]
    for target in targets:
        assert viz.code_of(target)  # raises, naming what exists, for a renamed target


_MINUTES = re.compile(r"standard mode[^|\n]*?about (\d+(?:\.\d+)?) min", re.I)


@pytest.mark.parametrize("path", _cases())
def test_the_opening_cell_quotes_the_measured_standard_time(path):
    _, _, opening = _cells(path, "markdown")[0]
    quoted = _MINUTES.search(opening)
    assert quoted, "the opening cell should say 'standard mode ... about N min'"
    measured = chapters.standard_minutes(path)
    assert float(quoted.group(1)) == pytest.approx(measured, rel=0.10, abs=0.1)


@pytest.mark.parametrize("path", _cases())
def test_the_readme_chapter_table_quotes_the_measured_standard_time(path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if line.startswith("|") and path.name in line]
    assert rows, f"README's chapter table has no row for {path.name}"
    quoted = re.search(r"\|\s*(\d+(?:\.\d+)?) min\s*\|", rows[0])
    assert quoted, f"the README row of {path.name} should give its standard-mode minutes"
    measured = chapters.standard_minutes(path)
    assert float(quoted.group(1)) == pytest.approx(measured, rel=0.10, abs=0.1)


@pytest.mark.parametrize("path", _cases())
def test_exercises_come_with_worked_solutions(path):
    cells = _cells(path)
    headings = [i for i, c, s in cells if c["cell_type"] == "markdown" and "## Exercises" in s]
    assert headings, "an '## Exercises' section"
    exercises = re.findall(r"^\s*\d+\.\s", cells[headings[0]][2], flags=re.M)
    solutions = [
        i
        for i, c, _ in cells
        if c["cell_type"] == "code" and "solution" in c.get("metadata", {}).get("tags", [])
    ]
    assert len(exercises) >= 3, "at least three numbered exercises"
    assert len(solutions) >= 3 and min(solutions) > headings[0], "a solution cell per exercise"


@pytest.mark.parametrize("path", _cases())
def test_every_code_cell_was_executed_without_an_error(path):
    """The committed page is one whole run: every code cell executed, none ended in an error."""
    assert _unrun_or_failed(path) == ([], []), "cells not executed, cells that raised"


def _recording_chapters():
    """Chapters whose notebooks call ``verdicts.record(<chapter>, ...)``: chapter -> notebook."""
    found = {}
    for path in NOTEBOOKS:
        for _, tree in _code_trees(path):
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "record"
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "verdicts"
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                ):
                    found[node.args[0].value] = path.stem
    return found


def test_chapter_8_s_table_holds_every_chapter_s_verdicts():
    """Chapter 8 prints one table of every comparison the course states: its committed output
    has rows of each chapter that records a verdict (they come from that chapter's own run into
    the same output folder, so chapter 8 is executed after them)."""
    recording = _recording_chapters()
    assert {3, 5, 7, 8} <= set(recording), recording  # the check must see what it looks for
    (path,) = [p for p in NOTEBOOKS if p.stem.startswith("08_")]
    tables = [
        "".join(o.get("text", ""))
        for _, cell, source in _cells(path, "code")
        if "verdicts.table()" in source
        for o in cell.get("outputs", [])
    ]
    assert tables, "chapter 8 prints verdicts.table()"
    shown = {int(m) for m in re.findall(r"^\s*(\d+)  \S", "".join(tables), flags=re.M)}
    missing = {chapter: stem for chapter, stem in recording.items() if chapter not in shown}
    assert not missing, f"chapter 8's committed table has no rows of {missing}"
