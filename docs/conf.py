"""Sphinx configuration of the course's website (``make site``, or ``python docs/site.py site``).

The source directory is the repository's root: the README is the home page, the notebooks are the
chapters (their committed outputs, never re-executed) and ``docs/*.md`` the reference pages. Every
script, style sheet and font the pages load is served from the built folder: MathJax 2 comes from
Debian's ``libjs-mathjax`` package (or the folder named by ``AIGC_MATHJAX``), copied into
``_static/mathjax`` after the build.
"""

import os
import pathlib
import shutil

from docutils import nodes

from aigc_keras import chapters

ROOT = pathlib.Path(__file__).resolve().parents[1]
MATHJAX = pathlib.Path(os.environ.get("AIGC_MATHJAX", "/usr/share/javascript/mathjax"))
# The parts of MathJax 2 that TeX input with SVG output loads (SVG output needs no web fonts).
MATHJAX_PARTS = [
    "MathJax.js",
    "config",
    "extensions",
    "jax/element",
    "jax/input/TeX",
    "jax/output/SVG",
]

project = "aigc_keras"
author = "The aigc_keras developers"
release = chapters.release(ROOT / "pyproject.toml")["version"]
root_doc = "README"
extensions = ["myst_nb"]
include_patterns = [
    "README.md",
    "CHANGELOG.md",
    "CONTRIBUTING.md",
    "docs/*.md",
    "notebooks/*.ipynb",
]
exclude_patterns = [
    ".venv",
    ".git",
    "site",
    "build",
    "dist",
    "outputs",
    ".test-outputs",
    "notebooks/outputs",
    "aigc_keras",
    "tests",
    "benchmarks",
    "**/.ipynb_checkpoints",
]
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3  # the README's and docs' #anchors are GitHub's heading anchors
myst_dmath_double_inline = (
    True  # "$$...$$" inside a paragraph is display maths, as Jupyter draws it
)
nb_execution_mode = "off"  # the pages show the outputs committed with each notebook
nb_output_folder = str(ROOT / "build" / "site" / "jupyter_execute")  # the outputs' images, unpacked
nb_ipywidgets_js = {}  # nothing loaded from a CDN
html_theme = "alabaster"
html_theme_options = {"show_powered_by": False, "fixed_sidebar": True}
html_favicon = "favicon.svg"
html_title = f"aigc_keras {release}"
html_show_sourcelink = False
html_copy_source = False
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS_SVG"
myst_update_mathjax = False  # myst writes MathJax 3's options; these are MathJax 2's
mathjax2_config = {
    "tex2jax": {
        "inlineMath": [["\\(", "\\)"]],
        "displayMath": [["\\[", "\\]"]],
        "processEscapes": True,
    },
    "messageStyle": "none",
}
suppress_warnings = ["myst.xref_missing", "misc.highlighting_failure"]

# The README's table of contents on the site (GitHub shows the README without it).
CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
PAGES = [f"docs/{p.stem}" for p in sorted((ROOT / "docs").glob("*.md"))]
PAGES += ["CONTRIBUTING", "CHANGELOG"]


def _toctree(app, docname, source):
    if docname == root_doc:
        chapters = "\n".join(f"notebooks/{name}" for name in CHAPTERS)
        pages = "\n".join(PAGES)
        source[0] += (
            f"\n\n```{{toctree}}\n:caption: Chapters\n:hidden:\n\n{chapters}\n```\n"
            f"\n```{{toctree}}\n:caption: Reference\n:hidden:\n\n{pages}\n```\n"
        )


def _finish(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    if not (MATHJAX / "MathJax.js").exists():
        raise RuntimeError(
            f"MathJax 2 was not found in {MATHJAX}: install Debian's libjs-mathjax package "
            "(apt install libjs-mathjax) or set AIGC_MATHJAX to a folder holding MathJax.js"
        )
    target = pathlib.Path(app.outdir) / "_static" / "mathjax"
    shutil.rmtree(target, ignore_errors=True)
    for part in MATHJAX_PARTS:
        source = MATHJAX / part
        if source.is_dir():
            shutil.copytree(source, target / part, symlinks=False)
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / part)
    # GitHub Pages and most servers open index.html: send it to the README's page.
    (pathlib.Path(app.outdir) / "index.html").write_text(
        '<!DOCTYPE html><meta charset="utf-8">'
        '<meta http-equiv="refresh" content="0; url=README.html">'
        '<title>aigc_keras</title><a href="README.html">aigc_keras</a>\n',
        encoding="utf-8",
    )


def _alt_text(app, doctree):
    """Give each figure of a chapter its alt text (kept in its cell's metadata): myst-nb names
    an output's image file after the SHA-256 of its bytes."""
    path = pathlib.Path(app.env.doc2path(app.env.docname))
    if path.suffix != ".ipynb":
        return
    try:
        texts = chapters.figure_alt_texts(path)
    except ValueError as error:  # Sphinx's report would not say which notebook
        raise ValueError(f"{path.relative_to(ROOT)}: {error}") from None
    for image in doctree.findall(nodes.image):
        text = texts.get(pathlib.PurePosixPath(image["uri"]).stem)
        if text is not None:
            image["alt"] = text


def setup(app):
    app.connect("doctree-read", _alt_text)
    app.connect("source-read", _toctree)
    app.connect("build-finished", _finish)
