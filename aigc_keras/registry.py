"""The model registry: every model's :class:`~aigc_keras.spec.ModelSpec`, by command-line name.

The built-in model files declare their specs (``SPECS``); this module collects them.  The
command line (choices, defaults, help), the benchmarks and the standard test matrix read it;
no other module lists the models.  A model of your own joins with :func:`register`::

    registry.register(ModelSpec("mygan", MyGAN, "sampler", "my GAN", export=...))

Exported networks carry a metadata record (:func:`aigc_keras.models.base.read_metadata`) that
the ``sample``, ``eval``, ``translate``, ``enhance`` and ``inpaint`` commands dispatch on;
:func:`load_exported` reads it, or infers it for files written without one.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pathlib
import sys

import numpy as np

from .spec import ModelSpec
from .validation import check_int, cycled_labels

# The package's model files, in the order the command line lists their models.
BUILTIN_MODULES = (
    "cnn",
    "gan",
    "vae",
    "cyclegan",
    "stylegan",
    "pixelcnn",
    "editing",
    "diffusion",
    "pix2pix",
    "style",
)
SAMPLERS = ("sampler", "conditional sampler")

_specs: dict = {}
_state = {"builtin": False}


def _load_builtin() -> None:
    if _state["builtin"]:
        return
    _state["builtin"] = True
    own = dict(_specs)  # specs registered before the built-ins were loaded keep their place last
    _specs.clear()
    for module in BUILTIN_MODULES:
        for spec in importlib.import_module(f"aigc_keras.models.{module}").SPECS:
            _specs[spec.name] = spec
    _specs.update(own)


def register(spec: ModelSpec, *, replace: bool = False) -> ModelSpec:
    """Add a model to the registry (the command line and the test matrix then know it).

    Args:
        spec: the model's declaration.
        replace: allow replacing a model of the same name.

    Returns:
        The spec.
    """
    if not isinstance(spec, ModelSpec):
        raise TypeError(f"register takes a ModelSpec, got {type(spec).__name__}.")
    _load_builtin()
    if spec.name in _specs and not replace and _specs[spec.name] is not spec:
        raise ValueError(
            f"a model named {spec.name!r} is registered already (pass replace=True to replace it)."
        )
    _specs[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a model from the registry.

    Args:
        name: its command-line name.
    """
    _load_builtin()
    if name not in _specs:
        raise ValueError(f"no model named {name!r} is registered.")
    del _specs[name]


def specs() -> tuple:
    """Every registered spec, built-in models first."""
    _load_builtin()
    return tuple(_specs.values())


def names() -> tuple:
    """Every registered model's command-line name."""
    return tuple(spec.name for spec in specs())


def get(name: str) -> ModelSpec:
    """The spec of a model.

    Args:
        name: its command-line name.
    """
    _load_builtin()
    if name not in _specs:
        raise ValueError(f"unknown model {name!r}; the models are {', '.join(_specs)}.")
    return _specs[name]


def for_class(model) -> ModelSpec | None:
    """The spec whose class is ``model``'s own (instance or class), or ``None``.

    Args:
        model: a model instance or class.
    """
    cls = model if isinstance(model, type) else type(model)
    return next((spec for spec in specs() if spec.model_class is cls), None)


def settings(spec: ModelSpec, **given) -> dict:
    """The settings ``spec.make`` receives: the given values over the spec's defaults.

    Args:
        spec: the model's spec.
        **given: ``image_size``, ``channels``, ``seed``, ``width``, ``num_classes`` and option
            values; ``None`` means "the default".

    Returns:
        A dict with every key ``make`` may read.
    """
    spec = variant(spec, given)  # registry.build(get("diffusion"), conditional=True) is conditional
    values = {
        "image_size": spec.image_size,
        "channels": spec.channels or 1,
        "seed": 0,
        "width": spec.width,
        "num_classes": 10 if spec.conditional else None,
    }
    values.update({option.dest: option.default for option in spec.options})
    parameters = inspect.signature(spec.model_class.__init__).parameters
    accepted = set(values) | {
        name
        for name, parameter in parameters.items()
        if name != "self"
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    }
    unknown = sorted(set(given) - accepted)
    if unknown:  # a misspelt setting was dropped without a word
        raise ValueError(
            f"{spec.name} has no setting {unknown}; its settings: {sorted(values)}, and its "
            f"class's arguments: {sorted(accepted - set(values))}."
        )
    given = {key: value for key, value in given.items() if value is not None}
    if spec.channels is not None and given.get("channels", spec.channels) != spec.channels:
        raise ValueError(
            f"{spec.name} works on {spec.channels}-channel images, got "
            f"channels={given['channels']}."
        )
    if not spec.conditional and spec.task != "classifier" and "num_classes" in given:
        how = (
            f" unless {spec.conditional_option}=True makes it so" if spec.conditional_option else ""
        )
        raise ValueError(
            f"{spec.name} is not class-conditional{how}; leave num_classes out "
            f"(got {given['num_classes']!r})."
        )
    values.update(given)
    return values


def variant(spec: ModelSpec, options: dict) -> ModelSpec:
    """The spec a run uses: a model made class-conditional by its ``conditional_option`` becomes
    a "conditional sampler" (labels loaded, classes drawn, the task recorded in its files).

    Args:
        spec: the registered spec.
        options: the run's option values (settings key -> value).
    """
    if spec.conditional_option and options.get(spec.conditional_option):
        return dataclasses.replace(spec, task="conditional sampler")
    return spec


def build(spec: ModelSpec, **given):
    """Make a model from its spec (not compiled).

    Args:
        spec: the model's spec.
        **given: settings, as for :func:`settings`.
    """
    return spec.make(spec, settings(spec, **given))


# --- exported networks ----------------------------------------------------------------------------


def metadata(spec: ModelSpec, model, network) -> dict:
    """The record saved inside an exported network's ``.keras`` file.

    Args:
        spec: the model's spec.
        model: the trained model.
        network: the network being exported.
    """
    shape = network.inputs[0].shape
    described = {}
    for tensor in network.inputs:
        name = tensor.name.split(":")[0]
        key = (
            name
            if name in spec.inputs
            else next((k for k in spec.inputs if k.endswith("*") and name.startswith(k[:-1])), None)
        )
        described[name] = spec.inputs.get(key, "")
    value_range = getattr(model, "value_range", spec.value_range)
    return {
        "model": spec.name,
        "class": type(model).__name__,
        "task": spec.task,
        "image_size": getattr(model, "image_size", shape[1]),  # None: any size (super-resolution)
        "channels": int(network.outputs[0].shape[-1]),
        "value_range": list(value_range) if isinstance(value_range, tuple) else value_range,
        "classes": getattr(model, "num_classes", None),
        "inputs": described,
        "config": model.get_config() if hasattr(model, "get_config") else None,
    }


def export(spec: ModelSpec, model, folder) -> dict:
    """Save the model's inference networks (``spec.export``) with their metadata records.

    Args:
        spec: the model's spec.
        model: the trained model.
        folder: where to write them.

    Returns:
        File name -> path written.
    """
    from .models.base import save_atomically

    folder = pathlib.Path(folder)
    return {
        name: save_atomically(network, folder / name, metadata(spec, model, network))
        for name, network in spec.export(model).items()
    }


def infer_metadata(network) -> dict:
    """A metadata record inferred from a network's inputs, for a file saved without one.

    Args:
        network: a loaded Keras model.

    Returns:
        A record with ``model`` and ``task`` (``None`` where no kind fits) and ``inferred: True``.
    """
    inputs = list(getattr(network, "inputs", None) or [])
    names = [t.name.split(":")[0] for t in inputs]
    record = {"model": None, "task": None, "classes": None, "inferred": True}
    if not inputs:
        return record
    first = tuple(inputs[0].shape[1:])
    if names[:1] == ["images"] and len(first) == 3:
        record.update(model="pixelcnn", task="sampler")
    elif names[1:2] == ["truncation_psi"] and all(n.startswith("noise_") for n in names[2:]):
        record.update(model="stylegan", task="sampler")
    elif len(first) == 1 and names[1:] in ([], ["label"]):
        record["task"] = "conditional sampler" if len(names) == 2 else "sampler"
        if len(names) == 2:
            record["classes"] = network.get_layer("label_one_hot").num_tokens
    elif names == ["image", "mask"]:
        record.update(model="inpainter", task="restorer")
    elif network.name in ("super_resolution", "denoiser") and len(inputs) == 1:
        record.update(
            model="superres" if network.name == "super_resolution" else "denoiser", task="restorer"
        )
    elif len(inputs) == 1 and len(first) == 3 and tuple(network.outputs[0].shape[1:]) == first:
        record["task"] = "translator"
    return record


def load_exported(path, what: str):
    """Load an exported network in Keras' safe mode, with its metadata record.

    Args:
        path: the ``.keras`` file.
        what: what the command expects, for the messages (``"generator"``, ...).

    Returns:
        ``(network, record)``; a file without a record gets an inferred one and a one-line notice.
    """
    import keras

    from . import layers  # noqa: F401 (registers the package's layers for loading)
    from .models.base import read_metadata

    path = pathlib.Path(path)
    if not path.is_file() or path.suffix != ".keras":
        raise ValueError(f"no saved {what} (.keras file) at {str(path)!r}.")
    record = read_metadata(path)
    network = keras.saving.load_model(path, safe_mode=True, compile=False)
    if record is None:
        record = infer_metadata(network)
        print(
            f"aigc-keras: note: {str(path)!r} has no aigc_keras metadata record (saved by Keras, "
            "or by aigc_keras before 0.2): its kind was inferred from its inputs.",
            file=sys.stderr,
        )
    return network, record


def latent_sampler(network, n: int, *, seed: int = 0, classes=None, truncation=None):
    """Draw ``n`` images from a network ``latent (, label) -> image``.

    Args:
        network: the generator.
        n: the number of images.
        seed: the seed of the latent vectors.
        classes: for a class-conditional generator, the classes to draw, cycled to ``n``
            (default: every class in turn).
        truncation: must be ``None`` (truncation is StyleGAN's).

    Returns:
        Images in the network's output range, float32.
    """
    import keras

    if truncation is not None:
        raise ValueError("--truncation needs a StyleGAN generator (aigc-keras train stylegan).")
    inputs = list(getattr(network, "inputs", None) or [])
    names = [t.name.split(":")[0] for t in inputs]
    if not inputs or len(inputs[0].shape) != 2 or names[1:] not in ([], ["label"]):
        raise ValueError(
            "it is not a generator (it does not take one latent vector per image); "
            "sample needs a saved generator."
        )
    n = check_int(n, "n")
    latents = (
        np.random.default_rng(seed).standard_normal((n, inputs[0].shape[1])).astype(np.float32)
    )
    if len(inputs) == 1:
        if classes is not None:
            raise ValueError("--classes needs a class-conditional generator.")
        return keras.ops.convert_to_numpy(network(latents, training=False))
    labels = cycled_labels(classes, network.get_layer("label_one_hot").num_tokens, n)
    return keras.ops.convert_to_numpy(network([latents, labels], training=False))


def sample(
    network,
    record: dict,
    n: int,
    *,
    seed: int = 0,
    classes=None,
    truncation=None,
    steps=None,
    guidance=None,
):
    """Draw images from an exported sampler, as its model's spec says (default:
    :func:`latent_sampler`).

    Args:
        network: the loaded network.
        record: its metadata record.
        n: the number of images.
        seed: the sampling seed.
        classes: classes to draw (class-conditional generators).
        truncation: truncation psi (StyleGAN).
        steps: sampling steps (diffusion and flow-matching models; ``None``: their default).
        guidance: classifier-free guidance weight (conditional diffusion and flow models).

    Returns:
        Images, float32.
    """
    import inspect

    _load_builtin()
    spec = _specs.get(record.get("model"))
    draw = spec.sampler if spec is not None and spec.sampler is not None else latent_sampler
    given = {"steps": steps, "guidance": guidance}
    accepted = inspect.signature(draw).parameters
    extra = {key: value for key, value in given.items() if key in accepted}
    refused = [f"--{key}" for key, value in given.items() if value is not None and key not in extra]
    if refused:
        raise ValueError(
            f"{' and '.join(refused)} apply to diffusion and flow-matching models "
            "(aigc-keras train diffusion|flow), not to this generator."
        )
    if "record" in accepted:
        extra["record"] = record
    return draw(network, n, seed=seed, classes=classes, truncation=truncation, **extra)
