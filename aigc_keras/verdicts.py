"""The course's comparisons in one place: each chapter records the verdict of every comparison it
states (two figures, their gap, the spread of that gap, "win" or "tie", from
:func:`aigc_keras.metrics.compare`), and chapter 8 prints them all in one table.

Records are JSON files, one per chapter, in ``<output>/verdicts/`` (``AIGC_OUTPUT`` or
``outputs/``, the folder every chapter writes to), written atomically; recording a comparison
again replaces its earlier record, so a re-run chapter does not duplicate its rows.
"""

from __future__ import annotations

import json
import pathlib

from . import config

FIELDS = ("chapter", "comparison", "a_name", "a", "b_name", "b", "gap", "spread", "verdict")


def folder(create: bool = False) -> pathlib.Path:
    """Where the records are kept: ``<output>/verdicts``."""
    return config.output_dir("verdicts", create=create)


def _mode(mode, allowed=config.MODES) -> str:
    """``mode`` (``None``: the current one) if it is one of ``allowed``, else a ``ValueError``
    (a misspelt mode matched no row, or stored rows no table would show)."""
    if mode is None:
        return config.mode()
    if mode not in allowed:
        raise ValueError(f"mode must be one of {', '.join(allowed)} or None, got {mode!r}.")
    return mode


def _path(chapter: int) -> pathlib.Path:
    return folder() / f"chapter{chapter:02d}.json"


def record(chapter: int, comparison: str, result: dict, *, mode=None) -> dict:
    """Keep the verdict of one comparison for chapter 8's table.

    Args:
        chapter: the chapter that states the comparison (an int, 0-99).
        comparison: what is compared, in a few words (the key: recording the same comparison
            again replaces it).
        result: :func:`aigc_keras.metrics.compare`'s dict (``names``, ``a``, ``b``, ``gap``,
            ``spread``, ``verdict``).
        mode: the mode the figures were measured in (``None``: the current one).

    Returns:
        The row as kept.

    Raises:
        ValueError: a chapter outside 0-99, an empty comparison or a result missing a field.
    """
    if isinstance(chapter, bool) or not isinstance(chapter, int) or not 0 <= chapter <= 99:
        raise ValueError(f"chapter should be an int from 0 to 99, got {chapter!r}.")
    if not str(comparison).strip():
        raise ValueError("comparison should name what is compared, got an empty string.")
    if not isinstance(result, dict):
        raise ValueError(
            f"result should be aigc_keras.metrics.compare's dict, got {type(result).__name__}."
        )
    missing = [k for k in ("names", "a", "b", "gap", "spread", "verdict") if k not in result]
    names = result.get("names")
    if not missing and (not isinstance(names, (list, tuple)) or len(names) != 2):
        raise ValueError(f"result's names should be the two compared names, got {names!r}.")
    if missing:
        raise ValueError(
            f"result should be aigc_keras.metrics.compare's dict; it lacks {', '.join(missing)}."
        )
    row = {
        "chapter": chapter,
        "comparison": str(comparison),
        "a_name": str(result["names"][0]),
        "a": float(result["a"]),
        "b_name": str(result["names"][1]),
        "b": float(result["b"]),
        "gap": float(result["gap"]),
        "spread": float(result["spread"]),
        "verdict": str(result["verdict"]),
        "mode": _mode(mode),
    }
    path = _path(chapter)
    rows = [r for r in _read(path) if r["comparison"] != row["comparison"]] + [row]
    path.parent.mkdir(parents=True, exist_ok=True)
    config.write_text_atomically(path, json.dumps(rows, indent=1))
    return row


def _read(path: pathlib.Path) -> list[dict]:
    if not path.exists():
        return []
    return json.loads(path.read_text())


def recorded(mode=None) -> list[dict]:
    """Every recorded comparison, by chapter then in recording order.

    Args:
        mode: keep only the rows measured in this mode (``None``: the current one; ``"any"``:
            all).

    Returns:
        A list of row dicts (:data:`FIELDS` and ``mode``).
    """
    mode = _mode(mode, (*config.MODES, "any"))
    rows = []
    for path in sorted(folder().glob("chapter*.json")):
        rows += [r for r in _read(path) if mode == "any" or r["mode"] == mode]
    return sorted(rows, key=lambda r: r["chapter"])


def table(rows=None) -> str:
    """The rows as an aligned text table: chapter, comparison, the two figures, gap, spread,
    verdict."""
    rows = recorded() if rows is None else rows
    for row in rows:
        missing = [key for key in FIELDS if key not in row]
        if missing:  # was a raw KeyError
            raise ValueError(f"a row lacks {missing}; rows come from record or recorded.")
    head = (
        f"{'ch':>2s}  {'comparison':46s} {'first':24s} {'second':24s} {'gap':>9s} "
        f"{'spread':>8s}  verdict"
    )
    lines = [head]
    for r in rows:
        first, second = f"{r['a_name']} {r['a']:.4g}", f"{r['b_name']} {r['b']:.4g}"
        lines.append(
            f"{r['chapter']:2d}  {r['comparison'][:46]:46s} {first[:24]:24s} {second[:24]:24s} "
            f"{r['gap']:+9.3g} {r['spread']:8.3g}  {r['verdict']}"
        )
    return "\n".join(lines)
