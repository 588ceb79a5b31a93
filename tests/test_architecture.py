"""The rooms of the package: imports flow one way, in the order docs/design.md shows."""

import ast
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "aigc_keras"
MODEL_FILES = (
    "cnn",
    "gan",
    "vae",
    "cyclegan",
    "stylegan",
    "pixelcnn",
    "editing",
    "style",
    "pix2pix",
)
# Lowest first; a module may import its own group or a lower one.  Inside group 3 the networks come
# before the training core, and both before the model files (which import no other model file),
# and models.diffusion last: its latent diffusion is built on chapter 3's VAE.
ORDER = [
    ("validation", "config", "hardware", "spec", "order", "__init__"),
    ("layers", "losses"),
    ("models.networks", "models.__init__"),
    ("models.base",),
    tuple(f"models.{name}" for name in MODEL_FILES),
    ("models.diffusion",),
    ("data",),
    ("metrics", "verdicts"),
    ("judges",),
    ("callbacks", "viz", "distributed"),
    ("registry",),
    ("cli", "__main__", "chapters"),
]
RANK = {module: rank for rank, group in enumerate(ORDER) for module in group}


def _module(path: pathlib.Path) -> str:
    return ".".join(path.relative_to(PACKAGE).with_suffix("").parts)


def _forwarders(tree) -> set:
    """The nodes inside a module-level ``__getattr__`` (deprecation forwarding: exempt)."""
    exempt = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            exempt |= {id(inner) for inner in ast.walk(node)}
    return exempt


def _resolve(name: str):
    """The ordered module an imported dotted name belongs to, or ``None`` outside the package."""
    if not name.startswith("aigc_keras."):
        return None
    target = name.removeprefix("aigc_keras.")
    while target not in RANK:
        if target == "models":
            return "models.__init__"
        if "." not in target:
            return None
        target = target.rsplit(".", 1)[0]
    return target


def _imports(path: pathlib.Path, module: str | None = None):
    """(line, imported aigc_keras module) for every import in the file, inside functions too."""
    module = module or _module(path)
    package = module.split(".")[:-1]
    tree = ast.parse(path.read_text())
    exempt = _forwarders(tree)
    for node in ast.walk(tree):
        if id(node) in exempt or not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            base = package[: len(package) - node.level + 1] if node.level else None
            stem = ".".join(["aigc_keras", *base]) if node.level else ""
            stem = ".".join(part for part in (stem, node.module or "") if part)
            names = [stem] + [f"{stem}.{alias.name}" for alias in node.names]
        for target in {_resolve(name) for name in names} - {None}:
            yield node.lineno, target


def test_every_module_has_a_place_in_the_order():
    modules = {_module(p) for p in PACKAGE.rglob("*.py")}
    assert modules == set(RANK), (modules - set(RANK), set(RANK) - modules)


def test_no_module_imports_one_above_it():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module(path)
        for line, target in _imports(path):
            same_model_group = RANK[target] == RANK[module] == RANK["models.gan"]
            if RANK[target] > RANK[module] or (same_model_group and target != module):
                wrong.append(f"{module}:{line} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_the_checker_sees_a_violation():
    """The negative control: an upward import written into a model file is found."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        probe = pathlib.Path(folder) / "probe.py"
        probe.write_text(
            "import numpy\ndef f():\n    from .. import data\n    from .gan import DCGAN\n"
            "    from aigc_keras.models import vae\n"
        )
        found = {target for _, target in _imports(probe, "models.probe")}
    assert found == {"data", "models.gan", "models.vae", "models.__init__"}


def test_design_document_shows_the_same_order():
    text = (ROOT / "docs" / "design.md").read_text()
    section = text.split("## Import order", 1)[1].split("\n## ", 1)[0]
    groups = re.findall(r"^(\d+)\. (.+(?:\n   .+)*)", section, re.M)
    documented = [tuple(re.findall(r"`([a-z0-9_.]+)`", body)) for _, body in groups]
    ours = [
        tuple(m for m in group if not m.endswith("__init__") and m != "__main__") for group in ORDER
    ]
    merged = [ours[0], ours[1], ours[2] + ours[3] + ours[4], *ours[5:]]  # group 3 is one line there
    assert documented == merged


def test_names_that_moved_keep_working_for_one_release_with_a_warning():
    import pytest

    from aigc_keras import config, hardware, judges, metrics, validation
    from aigc_keras.models import cnn

    moved = [
        (config, "check_int", validation),
        (config, "set_precision", hardware),
        (config, "environment_report", hardware),
        (config, "strategy", hardware),
        (metrics, "ClassifierExtractor", judges),
        (metrics, "evaluate", judges),
        (cnn, "load_classifier", judges),
    ]
    for old, name, new in moved:
        home = new.__name__.removeprefix("aigc_keras.")
        with pytest.warns(DeprecationWarning, match=f"moved to aigc_keras.{home}.{name}"):
            assert getattr(old, name) is getattr(new, name)
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        config.nonexistent  # noqa: B018 (the attribute access is the test)
