"""The declaration a model file makes about each of its models: :class:`ModelSpec`.

A model file lists its specs in ``SPECS``; :mod:`aigc_keras.registry` collects them, and the
command line, the benchmarks and the standard test matrix read the registry.  Adding a model
is writing its class and its spec; nothing else in the package names it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from .validation import check_int, check_value_range

TASKS = (
    "sampler",
    "conditional sampler",
    "translator",
    "paired translator",
    "restorer",
    "stylizer",
    "classifier",
)
TRANSLATORS = ("translator", "paired translator")  # image -> image networks `translate` applies


@dataclasses.dataclass(frozen=True)
class Option:
    """A command-line flag of ``aigc-keras train`` that only some models take.

    Args:
        flag: the flag, e.g. ``"--levels"``; its value reaches the model's ``make`` under the
            flag's name with dashes as underscores (``levels``).
        default: the value when the flag is not given.
        help: the help text.
        parse: turns the text given into the value, raising ``ValueError`` with a message that
            says what is accepted (default: kept as text).
        choices: the values accepted, if they are few.
        switch: a flag that takes no value: ``True`` when given, else ``default``.
    """

    flag: str
    default: object
    help: str
    parse: Callable[[str], object] | None = None
    choices: tuple | None = None
    switch: bool = False

    @property
    def dest(self) -> str:
        """The settings key the value is stored under."""
        return self.flag.lstrip("-").replace("-", "_")


def default_make(spec: ModelSpec, settings: dict):
    """Make ``spec.model_class`` from the settings (``None`` values left out).

    Args:
        spec: the model's spec.
        settings: constructor keyword arguments (see :attr:`ModelSpec.make`).

    Returns:
        The model, not compiled.
    """
    return spec.model_class(**{k: v for k, v in settings.items() if v is not None})


def default_compile(model, *, jit_compile, total_steps):  # noqa: ARG001 (the hook's signature)
    """``model.compile()`` with the model's own optimizers.

    Args:
        model: the model.
        jit_compile: XLA (``None``: the hardware default for the model).
        total_steps: the run's length in steps (unused here; schedules read it).
    """
    model.compile(jit_compile=jit_compile)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Everything the command line, the benchmarks and the tests need to know about a model.

    Args:
        name: the command-line name (``aigc-keras train NAME``).
        model_class: the ``keras.Model`` subclass.
        task: one of :data:`TASKS`: what the exported network does.
        summary: one line for ``--help``.
        dataset: the default training dataset (a name ``aigc_keras.data`` knows).
        image_size: the default image height and width.
        batch_size: the recipe batch size the learning rates were set for.
        epochs: the default training length in passes over the dataset.
        value_range: the data's value range (``(-1, 1)``, ``(0, 1)``), or a function of the
            settings (PixelCNN's levels).
        channels: the channels the model always takes (``None``: the dataset's own).
        width: the default ``--width`` (``None``: the model's constructor default).
        sizes: the image sizes the model supports and the benchmark sweeps.
        test_config: the small constructor arguments the standard test matrix builds.
        options: extra command-line flags (:class:`Option`).
        make: ``make(spec, settings) -> model``; ``settings`` holds ``image_size``,
            ``channels``, ``seed``, ``width``, ``num_classes`` and each option's value.
        compile: ``compile(model, jit_compile=..., total_steps=...)``.
        export: ``export(model) -> {file name: keras.Model}``, the inference networks saved
            after training, each with the metadata record.
        inputs: what each input of the exported network means, by input name.
        sampler: for samplers whose exported network is not ``latent (, label) -> image``:
            ``sampler(network, n, seed=..., classes=..., truncation=...)`` -> images; a sampler
            that also takes ``record``, ``steps`` and ``guidance`` receives the exported file's
            metadata record and the command line's ``--steps`` and ``--guidance``.
        conditional_option: the :class:`Option` (its settings key) that makes this model
            class-conditional when given (``aigc-keras train diffusion --conditional``); the
            run then uses the spec's :func:`~aigc_keras.registry.variant`.
    """

    name: str
    model_class: type
    task: str
    summary: str
    dataset: str = "mnist"
    image_size: int = 28
    batch_size: int = 64
    epochs: int = 40
    value_range: object = (-1, 1)
    channels: int | None = None
    width: int | None = None
    sizes: tuple = (28,)
    test_config: dict = dataclasses.field(default_factory=dict)
    options: tuple = ()
    make: Callable = default_make
    compile: Callable = default_compile
    export: Callable | None = None
    inputs: dict = dataclasses.field(default_factory=dict)
    sampler: Callable | None = None
    conditional_option: str | None = None

    def __post_init__(self):
        if not self.name or not all(c.isalnum() or c in "-_" for c in self.name):
            raise ValueError(f"a model name is letters, digits, '-' and '_', got {self.name!r}.")
        if not isinstance(self.model_class, type):
            raise TypeError(f"model_class must be a class, got {self.model_class!r}.")
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {self.task!r}.")
        for field in ("image_size", "batch_size", "epochs"):
            check_int(getattr(self, field), field)
        if not callable(self.value_range):
            check_value_range(self.value_range)
        for size in self.sizes:
            check_int(size, "sizes")
        if self.image_size not in self.sizes:
            raise ValueError(
                f"{self.name}: sizes {self.sizes} must include image_size {self.image_size}."
            )
        if self.task != "classifier" and self.export is None:
            raise ValueError(f"{self.name}: a {self.task} needs export (what is saved).")
        if self.conditional_option is not None and self.option(self.conditional_option) is None:
            raise ValueError(
                f"{self.name}: conditional_option {self.conditional_option!r} is not one of its "
                f"options ({', '.join(o.dest for o in self.options) or 'none'})."
            )

    @property
    def conditional(self) -> bool:
        """Whether the model trains on labels and samples given classes."""
        return self.task == "conditional sampler"

    def data_value_range(self, settings: dict):
        """The value range the training data is loaded in, for these settings.

        Args:
            settings: as :func:`aigc_keras.registry.settings` makes them.
        """
        return self.value_range(settings) if callable(self.value_range) else self.value_range

    def option(self, dest: str) -> Option | None:
        """The option stored under ``dest``, if the model takes it.

        Args:
            dest: the settings key (the flag without dashes, ``_`` for ``-``).
        """
        return next((o for o in self.options if o.dest == dest), None)
