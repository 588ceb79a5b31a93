"""The course's website (``make site``) in a real browser.

The site is built once (``docs/site.py``, the notebooks' committed outputs, nothing executed) and
served from 127.0.0.1; headless Chromium, driven through Debian's ``chromium-driver``, opens every
page with every other host unresolvable, and each page must load only from the site itself: every
image complete, as many images as the notebook has image outputs, each with its figure's alt text,
every formula of the notebook's Markdown typeset by MathJax without an error and no maths delimiter
left in the text, no console message at level SEVERE.  Needs Debian's ``chromium``,
``chromium-driver`` and ``libjs-mathjax`` (``.ci/run`` installs them); without them the tests are
skipped with the command that installs them.
"""

import functools
import http.server
import importlib.util
import json
import os
import pathlib
import re
import shutil
import threading
import time
import urllib.parse

import pytest

from aigc_keras import chapters

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def _module(name: str):
    """A module of docs/ (the site's builder and its Sphinx configuration), loaded by path."""
    spec = importlib.util.spec_from_file_location(f"site_{name}", ROOT / "docs" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MATHJAX = _module("conf").MATHJAX  # where the build takes MathJax from
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
PAGES = ["README.html", *(f"docs/{p.stem}.html" for p in sorted((ROOT / "docs").glob("*.md")))]

_missing = [
    name
    for name, path in [
        ("chromium", CHROMIUM),
        ("chromium-driver", CHROMEDRIVER),
        ("libjs-mathjax", MATHJAX / "MathJax.js"),
    ]
    if not pathlib.Path(path).exists()
]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(_missing),
        reason=f"the browser test needs {', '.join(_missing)}: "
        "sudo apt-get install chromium chromium-driver libjs-mathjax",
    ),
]

# Wait for MathJax (when the page loads it) to finish typesetting, then report what the page shows.
INSPECT = """
const done = arguments[arguments.length - 1];
function report() {
  const body = document.querySelector('div.body');
  const images = [...body.querySelectorAll('img')];
  const jax = window.MathJax && MathJax.Hub ? MathJax.Hub.getAllJax(body) : [];
  function broken(node) {  // a TeX error, or an undefined macro (drawn as red text)
    if (!node) return false;
    if (node.type === 'merror' || (node.type === 'mtext' && node.mathcolor === 'red')) return true;
    return (node.data || []).some(broken);
  }
  const prose = [...body.querySelectorAll('p, li, td, th, h1, h2, h3, h4, dd, dt, blockquote')]
    .filter(e => !e.closest('pre, code, .cell_output'))
    .map(e => {  // the text without its code, its typeset maths and MathJax's own scripts
      const copy = e.cloneNode(true);
      copy.querySelectorAll('code, pre, script, .MathJax_SVG, .MathJax_SVG_Display')
        .forEach(c => c.remove());
      return copy.textContent;
    }).join('\\n');
  done({
    images: images.length,
    alts: images.map(i => [i.getAttribute('src'), i.getAttribute('alt')]),
    incomplete: images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
    formulas: jax.length,
    errors: jax.filter(j => broken(j.root)).map(j => j.originalText),
    svg: body.querySelectorAll('.MathJax_SVG').length,
    delimiters: (prose.match(/.{0,30}(\\$|\\\\\\(|\\\\\\[).{0,30}/g) || []),
  });
}
if (!document.querySelector('script[src*="mathjax/MathJax.js"]')) { report(); }
else {
  (function wait() {
    if (window.MathJax && MathJax.isReady) MathJax.Hub.Queue(report);
    else setTimeout(wait, 50);
  })();
}
"""


def notebook_counts(path: pathlib.Path) -> tuple[int, int]:
    """(image outputs, formulas in the Markdown cells) of a notebook, counted from its JSON."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    images = formulas = 0
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            images += sum(
                any(key.startswith("image/") for key in output.get("data", {}))
                for output in cell.get("outputs", [])
            )
        elif cell["cell_type"] == "markdown":
            formulas += count_formulas("".join(cell["source"]))
    return images, formulas


def count_formulas(markdown: str) -> int:
    """The ``$...$`` and ``$$...$$`` formulas of Markdown text (code and ``\\$`` are not maths)."""
    text = re.sub(r"```.*?```", " ", markdown, flags=re.S)
    text = re.sub(r"`[^`]*`", " ", text).replace(r"\$", " ")
    display = len(re.findall(r"\$\$.+?\$\$", text, flags=re.S))
    text = re.sub(r"\$\$.+?\$\$", " ", text, flags=re.S)
    return display + len(re.findall(r"\$[^$]+?\$", text))


def test_formula_count_reads_markdown():
    text = "A $x$ and $$\\sum_i y_i$$ but not `$z$` nor \\$5, and\n```\n$code$\n```\n$a\nb$."
    assert count_formulas(text) == 3


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    builder = _module("site")
    base = pathlib.Path(os.environ.get("AIGC_OUTPUT") or tmp_path_factory.mktemp("site"))
    output = base / "site"
    start = time.perf_counter()
    builder.build(output, cache=base / "site-cache")
    print(f"site built in {time.perf_counter() - start:.1f} s")
    return output


@pytest.fixture(scope="module")
def browser(site):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(site))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in [
        "--headless",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1280,1600",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",  # no other host resolves
    ]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager downloads nothing
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_script_timeout(60)
    yield driver, f"http://127.0.0.1:{server.server_address[1]}", site
    driver.quit()
    server.shutdown()


def visit(browser, page: str) -> dict:
    """Open a page; return what INSPECT reports plus the requests and console messages."""
    driver, base, _ = browser
    driver.get_log("performance")  # drop what earlier pages logged
    driver.get_log("browser")
    driver.get(f"{base}/{page}")
    report = driver.execute_async_script(INSPECT)
    requests = [
        json.loads(entry["message"])["message"]["params"]["request"]["url"]
        for entry in driver.get_log("performance")
        if '"Network.requestWillBeSent"' in entry["message"]
    ]
    report["elsewhere"] = [
        url
        for url in requests
        if urllib.parse.urlsplit(url).scheme not in ("data", "blob", "about")
        and urllib.parse.urlsplit(url).hostname != "127.0.0.1"
    ]
    report["requests"] = len(requests)
    report["severe"] = [m["message"] for m in driver.get_log("browser") if m["level"] == "SEVERE"]
    return report


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_page(browser, notebook):
    images, formulas = notebook_counts(notebook)
    report = visit(browser, f"notebooks/{notebook.stem}.html")
    assert report["requests"] > images  # the page, its scripts and styles, and every image
    assert not report["elsewhere"], f"requests to another host: {report['elsewhere']}"
    assert not report["severe"], report["severe"]
    assert not report["incomplete"], f"images that did not load: {report['incomplete']}"
    assert report["images"] == images, f"{report['images']} images shown, the notebook has {images}"
    shown = {pathlib.PurePosixPath(src).stem: alt for src, alt in report["alts"]}  # <hash>.png
    assert shown == chapters.figure_alt_texts(notebook), "images without their figure's alt text"
    assert report["formulas"] == formulas, (
        f"{report['formulas']} formulas typeset, the notebook's Markdown has {formulas}"
    )
    assert report["svg"] >= formulas  # each formula drawn
    assert not report["errors"], f"formulas MathJax could not typeset: {report['errors']}"
    assert not report["delimiters"], f"maths left as text: {report['delimiters']}"


@pytest.mark.parametrize("page", PAGES)
def test_reference_page(browser, page):
    report = visit(browser, page)
    assert not report["elsewhere"], f"requests to another host: {report['elsewhere']}"
    assert not report["severe"], report["severe"]
    assert not report["incomplete"], f"images that did not load: {report['incomplete']}"
    assert not report["errors"] and not report["delimiters"]


def test_home_page_links_every_chapter(browser):
    driver, base, site = browser
    driver.get(f"{base}/index.html")  # the redirect to the README's page
    deadline = time.time() + 20
    while not driver.current_url.endswith("README.html") and time.time() < deadline:
        time.sleep(0.1)
    assert driver.current_url.endswith("README.html")
    links = {a.get_attribute("href") for a in driver.find_elements("css selector", "a[href]")}
    for notebook in NOTEBOOKS:
        assert f"{base}/notebooks/{notebook.stem}.html" in links, notebook.stem
    shot = site.parent / "site_home.png"
    driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000


def test_the_checks_see_what_they_look_for(browser):
    """A page with an image from another host, a missing image, a TeX error and an unparsed
    formula: each check above reports its fault (the same page, written next to the site)."""
    _, _, site = browser
    (site / "_faults.html").write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        '<script type="text/x-mathjax-config">MathJax.Hub.Config({tex2jax: {inlineMath: '
        '[["\\\\(", "\\\\)"]]}, messageStyle: "none"})</script>'
        '<script async src="_static/mathjax/MathJax.js?config=TeX-AMS_SVG"></script>'
        '<link rel="icon" href="_static/favicon.svg"></head><body><div class="body">'
        "<p>fine \\(x^2\\), broken \\(\\frac{a\\), undefined \\(\\nosuchmacro\\), left as $y$</p>"
        '<img src="http://example.com/picture.png"><img src="_images/none.png">'
        "</div></body></html>",
        encoding="utf-8",
    )
    report = visit(browser, "_faults.html")
    assert report["elsewhere"] == ["http://example.com/picture.png"]
    assert len(report["incomplete"]) == 2 and report["images"] == 2
    assert [alt for _, alt in report["alts"]] == [None, None]  # neither image has alt text
    assert any("none.png" in message for message in report["severe"])  # the 404
    assert report["formulas"] == 3
    assert sorted(report["errors"]) == ["\\frac{a", "\\nosuchmacro"]
    assert report["delimiters"] and "$y$" in report["delimiters"][0]
