"""The README and docs/: every relative link points at a file of the repository, and every
``#anchor`` at a heading of that file (GitHub's anchors: the heading in lower case, punctuation
dropped, spaces as hyphens)."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading's text."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: pathlib.Path) -> set:
    found = set()
    fenced = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            found.add(anchor(line.lstrip("#")))
    return found


def test_anchors_follow_github_s_rule():
    assert anchor("Textures and style (chapter 10)") == "textures-and-style-chapter-10"
    assert anchor("Reliability: what survives a disconnect, a NaN or a bad file") == (
        "reliability-what-survives-a-disconnect-a-nan-or-a-bad-file"
    )


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(page):
    text = page.read_text(encoding="utf-8")
    links = [link for link in LINK.findall(text) if not re.match(r"[a-z]+:", link)]
    broken = []
    for link in links:
        target, _, fragment = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        if not path.exists() or ROOT not in path.parents and path != ROOT:
            broken.append(f"{link} (no such file in the repository)")
        elif fragment and path.suffix == ".md" and fragment not in anchors(path):
            broken.append(f"{link} (no heading #{fragment} in {path.name})")
    assert not broken, f"{page.name}: " + "; ".join(broken)
