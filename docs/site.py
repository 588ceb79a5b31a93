"""Build the course's website: ``python docs/site.py [OUTPUT]`` (``make site``; default ``site/``).

Sphinx with myst-nb renders the README, ``docs/*.md`` and the notebooks with their committed outputs
(nothing is executed); the configuration is ``docs/conf.py``. Publishing: copy the output folder to
any static host, for example a ``gh-pages`` branch for GitHub Pages.
"""

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def build(
    output: pathlib.Path, cache: pathlib.Path | None = None, quiet: bool = True
) -> pathlib.Path:
    """Build the HTML site into ``output`` and return the path of its home page.

    ``cache`` (default ``build/site``) holds Sphinx's parsed pages, so that ``output`` holds only
    what is published (the images unpacked from the notebooks wait in ``build/site`` too).
    """
    from sphinx.cmd.build import build_main

    cache = cache or ROOT / "build" / "site"
    args = [
        "-b",
        "html",
        "-c",
        str(ROOT / "docs"),
        "-d",
        str(cache / "doctrees"),
        "-j",
        "auto",
        str(ROOT),
        str(output),
    ]
    status = build_main((["-q"] if quiet else []) + args)
    if status != 0:
        raise SystemExit(f"sphinx-build failed with status {status}")
    return output / "README.html"


if __name__ == "__main__":
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "site").resolve()
    print(f"site written: {build(out, quiet=False).parent}/index.html")
