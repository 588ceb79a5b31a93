"""One release, named once: ``pyproject.toml``'s version and repository, and everything that names
them (the README's Colab links, CITATION.cff, the changelog, the notebooks' set-up cell, the
package's ``__version__``); and the wheel a teacher hands out, installed by the notebooks' actual
set-up cell into a fresh environment with the network blocked."""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import sysconfig

import pytest

import aigc_keras
from aigc_keras import chapters

ROOT = pathlib.Path(__file__).resolve().parents[1]
RELEASE = chapters.release(ROOT / "pyproject.toml")
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def first_code_cell(path: pathlib.Path) -> str:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return "".join(next(c for c in notebook["cells"] if c["cell_type"] == "code")["source"])


def test_the_release_is_read_from_pyproject():
    assert re.fullmatch(r"\d+\.\d+\.\d+", RELEASE["version"])
    assert RELEASE["tag"] == "v" + RELEASE["version"]
    assert RELEASE["repository"].startswith("https://github.com/")
    assert aigc_keras.__version__ == RELEASE["version"]  # pip's record of the installed package


def test_citation_and_changelog_name_the_release():
    citation = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert re.search(rf"^version: {re.escape(RELEASE['version'])}$", citation, re.M)
    assert f'repository-code: "{RELEASE["repository"]}"' in citation
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    newest = re.search(r"^## (\S+)", changelog, re.M)
    assert newest and newest.group(1) == RELEASE["version"]


def test_every_colab_link_opens_an_existing_notebook_at_the_tag():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"https://colab\.research\.google\.com/[^)\s]+", readme)
    expected = {
        chapters.colab_url(RELEASE["repository"], RELEASE["tag"], f"notebooks/{p.name}")
        for p in NOTEBOOKS
    }
    assert sorted(links) == sorted(expected)  # one per chapter, nothing else
    for link in links:
        path = link.split(f"/blob/{RELEASE['tag']}/", 1)[1]
        assert (ROOT / path).is_file(), link


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_opens_with_the_release_s_setup_cell(path):
    assert first_code_cell(path) == chapters.setup_cell(RELEASE["repository"], RELEASE["tag"]), (
        "run: python -m aigc_keras.chapters setup-cell notebooks/*.ipynb"
    )


def test_setup_cell_command_rewrites_only_that_cell(tmp_path):
    copy = tmp_path / NOTEBOOKS[2].name
    notebook = json.loads(NOTEBOOKS[2].read_text(encoding="utf-8"))
    first = next(c for c in notebook["cells"] if c["cell_type"] == "code")
    outputs = first["outputs"]
    first["source"] = ["print('an older set-up cell')\n"]
    copy.write_text(json.dumps(notebook), encoding="utf-8")
    chapters.main(["setup-cell", str(copy), "--pyproject", str(ROOT / "pyproject.toml")])
    assert first_code_cell(copy) == chapters.setup_cell(RELEASE["repository"], RELEASE["tag"])
    rewritten = json.loads(copy.read_text(encoding="utf-8"))
    assert next(c for c in rewritten["cells"] if c["cell_type"] == "code")["outputs"] == outputs
    assert [c["source"] for c in rewritten["cells"][3:]] == [
        c["source"] for c in json.loads(NOTEBOOKS[2].read_text(encoding="utf-8"))["cells"][3:]
    ]
    assert not chapters.write_setup_cell(copy, RELEASE["repository"], RELEASE["tag"])  # unchanged


# Runs the set-up cell as Colab would: google.colab imported, then the cell's source.
COLAB = """
import sys, types
sys.modules["google.colab"] = types.ModuleType("google.colab")
source = open(sys.argv[1], encoding="utf-8").read()
exec(compile(source, "set-up cell", "exec"), {"__name__": "__main__"})
import importlib.resources, json, aigc_keras
from aigc_keras import hardware
print("PACKAGE", aigc_keras.__file__, aigc_keras.__version__)
data = importlib.resources.files("aigc_keras").joinpath("measured_defaults.json").read_text()
stored = json.loads(data)  # the file shipped as package data, and what the package reads from it
assert hardware.measured_defaults()["measured"] == stored["measured"] != "never"
assert hardware.measured_defaults()["cpu_bf16_gain"] == stored["cpu_bf16_gain"]["gains"]
print("DATA", len(data))
"""


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A fresh virtual environment that sees this environment's dependencies (not its aigc_keras)
    through a path file, so pip installs the wheel without fetching anything."""
    base = tmp_path_factory.mktemp("release")
    deps = base / "dependencies"
    deps.mkdir()
    for entry in pathlib.Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not re.match(r"(__editable__|aigc_keras)|.*\.pth$", entry.name, re.I):
            (deps / entry.name).symlink_to(entry)
    env_dir = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    pathlib.Path(site, "dependencies.pth").write_text(f"{deps}\n", encoding="utf-8")
    cell = base / "setup_cell.py"
    cell.write_text(first_code_cell(NOTEBOOKS[0]), encoding="utf-8")
    driver = base / "colab.py"
    driver.write_text(COLAB, encoding="utf-8")
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "PIP_"))
    }
    env.update(
        PIP_NO_INDEX="1",  # pip may not look for anything on an index
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        http_proxy="http://127.0.0.1:9",  # and no other connection gets out
        https_proxy="http://127.0.0.1:9",
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        no_proxy="",
        GIT_TERMINAL_PROMPT="0",
        PYTHONNOUSERSITE="1",
        AIGC_OFFLINE="1",
        AIGC_OUTPUT=str(base / "outputs"),
    )
    return {
        "base": base,
        "python": python,
        "site": pathlib.Path(site),
        "env": env,
        "run": [str(python), str(driver), str(cell)],
    }


def run_cell(fresh, **env):
    return subprocess.run(
        fresh["run"], env={**fresh["env"], **env}, capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow
def test_setup_cell_names_the_tag_when_it_cannot_fetch_it(fresh):
    result = run_cell(fresh)
    assert result.returncode != 0
    assert f"installing aigc_keras from aigc_keras @ git+{RELEASE['repository']}@" in result.stdout
    assert "RuntimeError" in result.stderr and f"the tag {RELEASE['tag']}" in result.stderr
    missing = run_cell(fresh, AIGC_WHEEL=str(fresh["base"] / "nowhere.whl"))
    assert "FileNotFoundError" in missing.stderr and "nowhere.whl" in missing.stderr
    assert not list(fresh["site"].glob("aigc_keras*"))  # nothing was installed


@pytest.mark.slow
def test_wheel_installs_offline_through_the_setup_cell(fresh):
    dist = fresh["base"] / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(dist),
            str(ROOT),
        ],
        check=True,
        env=fresh["env"],
        cwd=fresh["base"],
    )
    (wheel,) = dist.glob("aigc_keras-*.whl")
    assert wheel.name == f"aigc_keras-{RELEASE['version']}-py3-none-any.whl"
    result = run_cell(fresh, AIGC_WHEEL=str(wheel))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert f"installing aigc_keras from {wheel}" in result.stdout
    package = re.search(r"^PACKAGE (\S+) (\S+)$", result.stdout, re.M)
    assert package, result.stdout
    assert pathlib.Path(package.group(1)).is_relative_to(
        fresh["site"]
    )  # the wheel, not the checkout
    assert package.group(2) == RELEASE["version"]
    assert "DATA" in result.stdout
    assert (fresh["python"].parent / "aigc-keras").exists()  # the command-line entry point
    shutil.rmtree(dist)
