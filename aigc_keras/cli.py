"""The ``aigc-keras`` command (also ``python -m aigc_keras``).

    aigc-keras info
    aigc-keras train MODEL [--dataset NAME_OR_FOLDER] [--epochs N] [--out DIR] [--quick]
                     [--resume | --overwrite] [model options]
    aigc-keras sample --model generator.keras [--n 64] [--out samples.png] [--classes 3,7]
                      [--truncation 0.7]
    aigc-keras eval --model generator.keras --dataset mnist [--metrics fid,kid,is,pr] [--n 1000]
    aigc-keras translate --model generator_ab.keras --input IMAGE_OR_FOLDER --out FOLDER
    aigc-keras inpaint --model inpainter.keras --image IMAGE --mask MASK.png --out FILLED.png
    aigc-keras enhance --model superres_x2.keras|denoiser.keras --input IMAGE_OR_FOLDER --out FOLDER
    aigc-keras texture --style IMAGE [--size 128] [--n 1] [--steps 300] [--out texture.png]
    aigc-keras stylize --style IMAGE | --model stylizer.keras --input PHOTO [--size 256]
    aigc-keras dream --input IMAGE [--network auto|inception|classifier] [--layer L]

``train`` takes its models, their defaults and their own options from the registry
(:mod:`aigc_keras.registry`): ``aigc-keras train --help`` lists them.  The other commands read
the metadata record inside the ``.keras`` file they are given.
"""

from __future__ import annotations

import argparse
import math
import os
import pathlib
import sys
import time

from . import config, registry
from .spec import TRANSLATORS
from .validation import fraction_from_text, int_from_text

STRICT_HELP = (
    "refuse a folder that holds unreadable or non-image files (default: skip them and "
    "say how many, naming the first three)"
)
COMMANDS = (
    "info",
    "train",
    "sample",
    "eval",
    "translate",
    "inpaint",
    "enhance",
    "texture",
    "stylize",
    "dream",
)
METRICS = ("fid", "kid", "is", "pr")
# What a user's bad input raises inside a command: printed as one line, not a traceback.
INPUT_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError)


def _argument_type(parse, name: str):
    """An argparse ``type`` from a parser that raises ``ValueError``: its message is kept."""

    def convert(text):
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    convert.__name__ = name
    return convert


_positive_int = _argument_type(int_from_text, "positive integer")
_non_negative_int = _argument_type(lambda text: int_from_text(text, 0), "non-negative integer")
_unit_interval = _argument_type(fraction_from_text, "number in [0, 1]")


def _comma_list(parse, allowed_text: str):
    def convert(text):
        values = [part.strip() for part in text.split(",")]
        try:
            values = [parse(value) for value in values]  # an empty entry ("3,,4") is refused
        except ValueError:
            values = None
        if not values:
            raise argparse.ArgumentTypeError(f"{allowed_text}, got {text!r}")
        return values

    return convert


def _class_id(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def _metric(text: str) -> str:
    if text not in METRICS:
        raise ValueError(text)
    return text


def _style_options(command, out: str) -> None:
    """The flags ``texture`` and ``stylize`` share: the extractor, the seed and the PNG written."""
    command.add_argument(
        "--network",
        choices=("auto", "vgg19", "multiscale"),
        default="auto",
        help="feature extractor (default: auto)",
    )
    command.add_argument(
        "--seed", type=_non_negative_int, default=0, help="random seed (default: 0)"
    )
    command.add_argument("--out", default=out, help=f"PNG file to write (default: {out})")


def _train_parser(commands) -> None:
    specs = registry.specs()
    table = "\n".join(
        f"  {s.name:10s} {s.summary}; {s.dataset}, {s.image_size}px, batch "
        f"{s.batch_size}, {s.epochs} epochs"
        for s in specs
    )
    train = commands.add_parser(
        "train",
        help=f"train a model: {', '.join(s.name for s in specs)}",
        description="Train a model and save it under --out.",
        epilog=f"models:\n{table}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("model", choices=[s.name for s in specs], help="which model to train")
    train.add_argument(
        "--dataset",
        default=None,
        help="dataset name (mnist, mnist_m, digits, photos, ...) or a folder of images "
        "(default: the model's, listed below)",
    )
    train.add_argument(
        "--epochs", type=_positive_int, default=None, help="epochs (default: the model's standard)"
    )
    train.add_argument(
        "--steps",
        type=_positive_int,
        default=None,
        help="optimizer steps per epoch (default: one pass)",
    )
    train.add_argument(
        "--batch-size",
        type=_positive_int,
        default=None,
        help="batch size (default: the model's, times the replicas)",
    )
    train.add_argument(
        "--image-size",
        type=_positive_int,
        default=None,
        help="image height and width (default: the model's)",
    )
    train.add_argument(
        "--out", default=None, help="output folder (default: $AIGC_OUTPUT or outputs/)"
    )
    train.add_argument(
        "--quick", action="store_true", help="a few seconds of training (smoke test)"
    )
    train.add_argument("--seed", type=_non_negative_int, default=0, help="random seed (default: 0)")
    train.add_argument(
        "--width",
        type=_positive_int,
        default=None,
        help="network width: base filters (CycleGAN: the generators' ngf, with the "
        "discriminators' ndf = 2 x ngf) (default: the model's)",
    )
    train.add_argument("--strict", action="store_true", help=STRICT_HELP)
    train.add_argument(
        "--precision",
        choices=("auto", "float32", "mixed_float16", "mixed_bfloat16"),
        default="auto",
        help="dtype policy (default auto: mixed_float16 on a GPU with tensor cores, "
        "mixed_bfloat16 on a TPU; on a CPU per model: mixed_bfloat16 where the "
        "CPU has bfloat16 instructions and the benchmark measured it faster, "
        "float32 otherwise)",
    )
    train.add_argument(
        "--xla",
        choices=("auto", "on", "off"),
        default="auto",
        help="XLA compilation (default auto: on on a GPU; on a CPU per model, on "
        "where the benchmark measured it faster)",
    )
    train.add_argument(
        "--checkpoint-every",
        type=_positive_int,
        default=None,
        metavar="N",
        help="also write a checkpoint every N steps inside the epochs (needs --steps); "
        "--resume then continues from that batch, with the data where they stopped "
        "(default: at each epoch's end only)",
    )
    train.add_argument(
        "--workers",
        default=None,
        metavar="HOST:PORT,...",
        help="train on several machines (tf.distribute.MultiWorkerMirroredStrategy): every "
        "worker's address, the chief (worker 0) first; run the same command on each with its "
        "--worker-index (or set TF_CONFIG). --batch-size is then the global batch, split "
        "across the workers; only the chief writes into --out (samplers and the classifier)",
    )
    train.add_argument(
        "--worker-index",
        type=_non_negative_int,
        default=None,
        metavar="I",
        help="this worker's place in --workers (0: the chief)",
    )
    again = train.add_mutually_exclusive_group()
    again.add_argument(
        "--resume", action="store_true", help="continue from the newest checkpoint in --out"
    )
    again.add_argument(
        "--overwrite", action="store_true", help="discard checkpoints in --out and start again"
    )
    added = {}
    for spec in specs:
        for option in spec.options:
            added.setdefault(option.flag, (option, []))[1].append(spec.name)
    for flag, (option, takers) in added.items():
        kind = option.dest.replace("_", " ")
        if option.switch:
            train.add_argument(
                flag,
                action="store_const",
                const=True,
                default=None,
                help=f"{', '.join(takers)}: {option.help}",
            )
            continue
        train.add_argument(
            flag,
            default=None,
            choices=option.choices,
            type=_argument_type(option.parse, kind) if option.parse else str,
            help=f"{', '.join(takers)}: {option.help}",
        )


def _image_folder_command(
    commands, name: str, help_text: str, description: str, model: str, written: str
) -> None:
    """A command that applies a saved image-to-image network to a file or a folder."""
    command = commands.add_parser(name, help=help_text, description=description)
    command.add_argument("--model", required=True, help=f"path of {model} (.keras)")
    command.add_argument("--input", required=True, help="an image file or a folder of images")
    command.add_argument(
        "--out", required=True, help=f"folder for the {written} PNGs (created if needed)"
    )
    command.add_argument("--strict", action="store_true", help=STRICT_HELP)


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser, its ``train`` models read from the registry."""
    parser = argparse.ArgumentParser(
        prog="aigc-keras", description="Train and sample the aigc_keras models."
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="{" + ",".join(COMMANDS) + "}"
    )
    commands.add_parser(
        "info",
        help="print the environment line and the offline datasets",
        description="Print TensorFlow/Keras versions, device, precision, XLA, mode and datasets.",
    )
    _train_parser(commands)

    sample = commands.add_parser(
        "sample",
        help="draw a grid of samples from a saved generator",
        description="Load a saved generator (.keras, safe mode) and write a PNG grid.",
    )
    sample.add_argument("--model", required=True, help="path of a saved generator (.keras)")
    sample.add_argument(
        "--n", type=_positive_int, default=64, help="number of samples (default: 64)"
    )
    sample.add_argument(
        "--out", default="samples.png", help="PNG file to write (default: samples.png)"
    )
    sample.add_argument(
        "--seed", type=_non_negative_int, default=0, help="random seed (default: 0)"
    )
    sample.add_argument(
        "--classes",
        default=None,
        type=_comma_list(_class_id, "classes must be comma-separated non-negative integers"),
        help="for a class-conditional generator: comma-separated classes to draw, "
        "cycled (default: every class in turn)",
    )
    sample.add_argument(
        "--truncation",
        type=_unit_interval,
        default=None,
        help="for a StyleGAN generator: truncation psi in [0, 1] (1: none, 0.7: "
        "typical; default 1)",
    )
    _diffusion_arguments(sample)

    _image_folder_command(
        commands,
        "translate",
        "translate images with a saved CycleGAN generator",
        "Load a saved generator_ab.keras or generator_ba.keras (safe mode), "
        "translate one image or every image in a folder, write PNGs.",
        "a saved CycleGAN generator",
        "translated",
    )

    inpaint = commands.add_parser(
        "inpaint",
        help="fill the holes of an image with a saved inpainter",
        description="Load a saved inpainter.keras (safe mode) and fill the "
        "white pixels of --mask in --image; known pixels are "
        "kept exactly.",
    )
    inpaint.add_argument("--model", required=True, help="path of a saved inpainter (.keras)")
    inpaint.add_argument("--image", required=True, help="the image to repair")
    inpaint.add_argument(
        "--mask",
        required=True,
        help="a black-and-white PNG of the image's size: white (255) = hole, black (0) = keep",
    )
    inpaint.add_argument(
        "--out", default="inpainted.png", help="PNG file to write (default: inpainted.png)"
    )

    _image_folder_command(
        commands,
        "enhance",
        "upscale or denoise images with a saved model",
        "Load a saved superres_x2/x4.keras or denoiser.keras (safe mode) and apply "
        "it to one image or every image in a folder.",
        "a saved super-resolution or denoising network",
        "enhanced",
    )

    texture = commands.add_parser(
        "texture",
        help="synthesise a texture like an image (Gram matrices, chapter 10)",
        description="Start from noise and change the pixels until their feature statistics "
        "(Gram matrices) match --style's.  The extractor: VGG19 with ImageNet weights when "
        "they download, else a multiscale network of random filters (one line says which).",
    )
    texture.add_argument("--style", required=True, help="the example image (any image file)")
    texture.add_argument(
        "--size", type=_positive_int, default=128, help="side of each texture (default: 128)"
    )
    texture.add_argument(
        "--n", type=_positive_int, default=1, help="number of textures (default: 1)"
    )
    texture.add_argument(
        "--steps", type=_positive_int, default=300, help="Adam steps (default: 300)"
    )
    texture.add_argument(
        "--learning-rate",
        type=_argument_type(float, "learning rate"),
        default=0.05,
        help="Adam's learning rate, pixels in [0, 1] (default: 0.05)",
    )
    _style_options(texture, "texture.png")

    stylize = commands.add_parser(
        "stylize",
        help="style transfer: repaint a photograph in the style of an image (chapter 10)",
        description="With --style: optimise the pixels of --input (Gatys et al. 2016) so "
        "that their Gram matrices match --style's while one layer's features stay the "
        "photograph's, with a total-variation term (the extractor as for texture; the offline "
        "multiscale network keeps content at its quarter-size scale).  With --model: one "
        "forward pass of a network trained by `aigc-keras train style` (Johnson et al. 2016).",
    )
    stylize.add_argument(
        "--style",
        default=None,
        help="the style image (an image file or an offline picture name such as coffee)",
    )
    stylize.add_argument(
        "--model", default=None, help="a stylizer.keras from `aigc-keras train style`"
    )
    stylize.add_argument("--input", required=True, help="the photograph (any image file)")
    stylize.add_argument(
        "--size",
        type=_positive_int,
        default=256,
        help="the result's longer side in pixels; the aspect ratio is kept (default: 256)",
    )
    stylize.add_argument(
        "--steps", type=_positive_int, default=300, help="Adam steps (default: 300)"
    )
    for flag, default, what in (
        ("--learning-rate", 0.005, "Adam's learning rate, pixels in [0, 1]"),
        ("--style-weight", 1.0, "weight of the Gram-matrix (style) loss"),
        ("--content-weight", 0.5, "weight of the content loss"),
        ("--tv-weight", 0.2, "weight of the total variation (smoothness)"),
    ):
        stylize.add_argument(
            flag,
            type=_argument_type(float, flag.strip("-").replace("-", " ")),
            default=default,
            help=f"{what} (default: {default})",
        )
    _style_options(stylize, "stylized.png")

    dream = commands.add_parser(
        "dream",
        help="DeepDream: change an image to excite a layer of InceptionV3 or chapter 1's "
        "classifier",
        description="Gradient ascent on the mean activation of one layer, with octaves, at the "
        "image's own size.  --network auto: InceptionV3 with ImageNet weights when they "
        "download (the image in colour), else the chapter-1 digit classifier (trained once and "
        "cached, about a minute the first time; the image in grey: white strokes on black are "
        "what it knows); one line says which.",
    )
    dream.add_argument("--input", required=True, help="the image to dream on (any image file)")
    dream.add_argument(
        "--network",
        choices=("auto", "inception", "classifier"),
        default="auto",
        help="the network (default: auto)",
    )
    dream.add_argument(
        "--layer",
        default=None,
        help="the layer to excite (default: mixed3 of InceptionV3, conv2b of the classifier)",
    )
    dream.add_argument(
        "--steps", type=_positive_int, default=40, help="gradient steps per octave (default: 40)"
    )
    dream.add_argument(
        "--step-size",
        type=_argument_type(float, "step size"),
        default=0.02,
        help="each step's size in pixel units of [-1, 1] (default: 0.02)",
    )
    dream.add_argument(
        "--octaves", type=_positive_int, default=3, help="number of sizes (default: 3)"
    )
    dream.add_argument(
        "--octave-scale",
        type=_argument_type(float, "octave scale"),
        default=1.3,
        help="ratio of two consecutive sizes, at least 1 (default: 1.3)",
    )
    dream.add_argument("--out", default="dream.png", help="PNG file to write (default: dream.png)")

    evaluate = commands.add_parser(
        "eval",
        help="score a saved generator against real data",
        description="Fréchet/kernel distance, Inception-style score and "
        "precision/recall of a saved generator's samples "
        "against a dataset's test split.",
    )
    evaluate.add_argument("--model", required=True, help="path of a saved generator (.keras)")
    evaluate.add_argument(
        "--dataset", default="mnist", help="real data to compare with (default: mnist)"
    )
    evaluate.add_argument(
        "--metrics",
        default=METRICS,
        type=_comma_list(
            _metric, "metrics must be a comma-separated subset of " + ",".join(METRICS)
        ),
        help="comma-separated subset of fid,kid,is,pr (default: all)",
    )
    evaluate.add_argument(
        "--n",
        type=_positive_int,
        default=1000,
        help="samples per side, capped at what the real split holds (default: 1000)",
    )
    evaluate.add_argument(
        "--extractor",
        choices=("classifier", "inception"),
        default=None,
        help="feature extractor (default: classifier for 1-channel images, else inception); "
        "the classifier is chapter 1's 28x28 one, other sizes resized to it",
    )
    evaluate.add_argument(
        "--seed", type=_non_negative_int, default=0, help="random seed (default: 0)"
    )
    _diffusion_arguments(evaluate)
    return parser


def _diffusion_arguments(command) -> None:
    """``--steps`` and ``--guidance``, for the samplers of diffusion and flow-matching models."""
    command.add_argument(
        "--steps",
        type=_positive_int,
        default=None,
        help="for a diffusion or flow-matching model: sampling steps (default: 20)",
    )
    command.add_argument(
        "--guidance",
        type=_argument_type(_non_negative_number, "guidance"),
        default=None,
        help="for a conditional diffusion or flow-matching model: classifier-free guidance w "
        ">= 0 (0: unconditional, 1: conditional, the default; above 1: guided)",
    )


def _non_negative_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value >= 0 or math.isinf(value):
        raise ValueError(f"must be a finite number >= 0, got {text!r}")
    return value


# --- train ---------------------------------------------------------------------------------------


def _checkpoints(args, folder: pathlib.Path):
    """The run's checkpoint callback; refuses to start over an earlier run unless told how."""
    from . import callbacks

    if args.checkpoint_every is not None and args.steps is None:
        raise ValueError(
            "--checkpoint-every needs --steps: checkpoints inside an epoch need the data as a "
            "stream of batches (an epoch of --steps batches), so that a resumed run continues "
            "with the batch after the checkpoint."
        )
    shared = folder / "checkpoints"  # the chief's, which every worker resumes from
    checkpoints = callbacks.Checkpoint(
        _writable(args, shared), every_steps=args.checkpoint_every, restore_from=shared
    )
    found = checkpoints.checkpoints(shared)
    if found and not (args.resume or args.overwrite):
        raise ValueError(
            f"{folder} already holds a checkpoint ({found[-1][1].name}); pass "
            "--resume to continue it or --overwrite to start again."
        )
    if args.overwrite and args.chief:
        for _, old in found:
            old.unlink()
    return checkpoints


def _writable(args, path: pathlib.Path) -> pathlib.Path:
    """Where this process writes ``path`` (a place under the output folder): ``path`` itself on
    the chief or a single process, the same place in its temporary folder on another worker."""
    if args.chief:
        return path
    return args.scratch / pathlib.Path(path).relative_to(args.out_root)


def _scope(args):
    """The scope models are built in: the multi-worker strategy's, or none."""
    import contextlib

    return args.strategy.scope() if args.strategy is not None else contextlib.nullcontext()


def _fit(args, model, make_dataset, *, epochs, initial_epoch, steps, callbacks):
    """Train ``model`` on ``make_dataset(shard, batch_size)``: its ``fit`` on one process, the
    multi-worker loop (:func:`aigc_keras.distributed.fit`) with ``--workers``."""
    if args.strategy is None:
        return model.fit(
            make_dataset(None, args.batch_size),
            epochs=epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps,
            callbacks=callbacks,
            verbose=2,
        )
    from . import distributed

    return distributed.fit(
        model,
        make_dataset,
        strategy=args.strategy,
        global_batch=args.batch_size,
        epochs=epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=steps,
        callbacks=callbacks,
    )


def _length(args, spec, quick_steps: int):
    """``(steps per epoch or None, epochs)`` for this run."""
    steps = args.steps or (quick_steps if args.quick else None)
    return steps, args.epochs or (2 if args.quick else spec.epochs)


def _steps(args, images: int, steps: int | None = None) -> int | None:
    """Steps per epoch: ``steps`` (``--steps``, or quick mode's); with ``--workers``, where each
    worker's shard is a stream, by default the global batches in one pass over the data."""
    steps = steps or args.steps
    if steps is None and args.strategy is not None:
        steps = max(1, images // args.batch_size)
    return steps


def _options(args, spec) -> dict:
    return {option.dest: getattr(args, option.dest) for option in spec.options}


def _start(model, checkpoints, args, epochs: int) -> int:
    start = checkpoints.restore(model) if args.resume else 0
    if start >= epochs:
        print(
            f"the checkpoint is already at epoch {start} of {epochs}; pass a larger --epochs to "
            "train further"
        )
    return start


def _built(spec, args, channels: int, checkpoints, total_steps=None, epochs=None, **options):
    """The model of ``spec`` for this run (``args``' size, seed and width), built and compiled in
    the run's strategy scope, with the epoch to start from: its checkpoint's with ``--resume``,
    else 0 (said when it is already at ``epochs``, when given)."""
    with _scope(args):
        model = registry.build(
            spec,
            image_size=args.image_size,
            channels=channels,
            seed=args.seed,
            width=args.width,
            **options,
        )
        spec.compile(model, jit_compile=None, total_steps=total_steps)
        if epochs is not None:
            return model, _start(model, checkpoints, args, epochs)
        return model, (checkpoints.restore(model) if args.resume else 0)


def _print_paths(paths: dict) -> None:
    for name, path in paths.items():
        print(f"{pathlib.Path(name).stem + ':':13s}{path}")


def _train_classifier(spec, args, out: pathlib.Path) -> None:
    import numpy as np

    from . import data, viz
    from .models.base import save_atomically

    epochs = args.epochs or (2 if args.quick else spec.epochs)
    common = dict(image_size=args.image_size, strict=args.strict)
    train = data.load_arrays(args.dataset, "train", limit=256 if args.quick else None, **common)
    test = data.load_arrays(args.dataset, "test", limit=128 if args.quick else None, **common)
    if train.labels is None:
        raise ValueError(f"dataset {args.dataset!r} has no labels; a classifier needs them.")
    print(
        f"training CNNClassifier on {len(train)} {train.name} images ({train.source}), "
        f"testing on {len(test)}, {epochs} epochs"
    )
    checkpoints = _checkpoints(args, out / spec.name)
    model, start = _built(
        spec,
        args,
        train.images.shape[-1],
        checkpoints,
        epochs=epochs,
        num_classes=max(int(train.labels.max()) + 1, 2),
        **_options(args, spec),
    )
    steps = _steps(args, len(train))

    def make_dataset(shard, batch_size):
        return data.load(
            args.dataset,
            "train",
            batch_size=batch_size,
            labels=True,
            repeat=steps is not None,
            seed=args.seed,
            limit=256 if args.quick else None,
            shard=shard,
            **common,
        )

    _fit(
        args,
        model,
        make_dataset,
        epochs=epochs,
        initial_epoch=start,
        steps=steps,
        callbacks=[checkpoints],
    )
    if not args.chief:
        return
    probs = model.predict_proba(test.images)
    accuracy = float(np.mean(probs.argmax(1) == test.labels))
    record = {
        "model": spec.name,
        "class": type(model).__name__,
        "task": spec.task,
        "image_size": args.image_size,
        "channels": int(train.images.shape[-1]),
        "value_range": [-1, 1],
        "classes": int(probs.shape[1]),
        "inputs": {"images": "images in [-1, 1]"},
    }
    model_path = save_atomically(model, out / f"{spec.name}.keras", record)
    shown = min(36, len(test))
    names = test.class_names or tuple(str(i) for i in range(probs.shape[1]))
    captions = [
        f"{names[p]}" + ("" if p == t else f" (true {names[t]})")
        for p, t in zip(probs[:shown].argmax(1), test.labels[:shown], strict=True)
    ]
    grid_path = out / f"{spec.name}_predictions.png"
    viz.show_images(
        test.images[:shown],
        labels=captions,
        ncols=6,
        path=grid_path,
        title=f"held-out accuracy {accuracy:.1%}",
    )
    print(f"held-out accuracy: {accuracy:.4f} on {len(test)} images")
    print(f"model:   {model_path}")
    print(f"picture: {grid_path}")


def _train_sampler(spec, args, out: pathlib.Path) -> None:
    """Train a sampler (GAN, VAE, StyleGAN, PixelCNN, ...): sample grids, full-state checkpoints,
    the exported network with its metadata record."""
    import numpy as np

    from . import callbacks, data, viz

    folder = out / spec.name
    checkpoints = _checkpoints(args, folder)
    steps, epochs = _length(args, spec, quick_steps=10)
    options = _options(args, spec)
    value_range = spec.data_value_range(registry.settings(spec, **options))
    common = dict(
        image_size=args.image_size,
        value_range=value_range,
        channels=spec.channels,
        strict=args.strict,
    )
    arrays = data.load_arrays(args.dataset, "train", **common)
    if spec.conditional and arrays.labels is None:
        raise ValueError(
            f"dataset {args.dataset!r} has no labels; the conditional {spec.name} needs them."
        )
    steps = _steps(args, len(arrays), steps)

    def make_dataset(shard, batch_size):
        return data.load(
            args.dataset,
            "train",
            batch_size=batch_size,
            labels=spec.conditional,
            seed=args.seed,
            drop_remainder=True,
            repeat=steps is not None,
            shard=shard,
            **common,
        )

    num_classes = int(arrays.labels.max()) + 1 if spec.conditional else None
    model, start = _built(
        spec,
        args,
        arrays.images.shape[-1],
        checkpoints,
        epochs=epochs,
        num_classes=num_classes,
        **options,
    )
    print(
        f"training {type(model).__name__} on {len(arrays)} {arrays.name} images "
        f"({arrays.source}), epochs {start + 1}..{epochs}"
    )
    grids = callbacks.SampleGrid(
        _writable(args, folder / "samples"),
        every=max(1, epochs // 10),
        n=100 if spec.conditional else 64,
    )
    _fit(
        args,
        model,
        make_dataset,
        epochs=epochs,
        initial_epoch=start,
        steps=steps,
        callbacks=[grids, checkpoints],
    )
    if not args.chief:
        return
    paths = registry.export(spec, model, folder)
    labels = np.arange(100) % model.num_classes if spec.conditional else None
    images = model.generate(None if spec.conditional else 64, labels=labels, seed=args.seed)
    grid = viz.image_grid(
        images, ncols=10 if spec.conditional else None, value_range=model.value_range
    )
    _print_paths(paths)
    print(f"samples:     {viz.save_image(grid, folder / 'samples.png')}")
    print(f"checkpoints: {checkpoints.directory}")


def _train_translator(spec, args, out: pathlib.Path) -> None:
    """Train a translator between two domains: translation grids, checkpoints, both generators."""
    from . import callbacks, data
    from .models import cyclegan

    folder = out / spec.name
    checkpoints = _checkpoints(args, folder)
    domain_a, domain_b = args.domain_a, args.domain_b
    if domain_b is None and not str(domain_a).startswith("cycle_gan/"):
        domain_b = cyclegan.DOMAINS[1]
    steps, epochs = _length(args, spec, quick_steps=5)
    common = dict(image_size=args.image_size, seed=args.seed, strict=args.strict)
    # a grey domain against a colour one (MNIST <-> MNIST-M, a folder of colour photographs
    # against MNIST): both read in colour, announced by load_unpaired
    dataset = data.load_unpaired(
        domain_a,
        domain_b,
        batch_size=args.batch_size,
        repeat=steps is not None,
        channels="match",
        **common,
    )
    channels = dataset.element_spec[0].shape[-1]
    held_out = data.load_unpaired(
        domain_a, domain_b, "test", batch_size=8, channels=channels, **common
    )
    held_out = next(iter(held_out))
    images_a, images_b = (x.numpy() for x in held_out)
    per_epoch = steps or int(dataset.cardinality().numpy())
    if per_epoch < 0:  # unknown cardinality: count one pass
        per_epoch = sum(1 for _ in dataset)
    total = epochs * per_epoch
    model, start = _built(
        spec, args, images_a.shape[-1], checkpoints, total, **_options(args, spec)
    )
    print(
        f"training {type(model).__name__} {domain_a} <-> {domain_b or domain_a + ' (B)'} at "
        f"{args.image_size}px, ngf {model.ngf}, ndf {model.ndf}, {model.n_blocks} residual blocks, "
        f"{model.patch_size}x{model.patch_size} patches, epochs {start + 1}..{epochs} ({total} "
        "steps, learning rate constant for the first half)"
    )
    grids = callbacks.TranslationGrid(
        folder / "samples", images_a, images_b, every=max(1, epochs // 8)
    )
    model.fit(
        dataset,
        epochs=epochs,
        initial_epoch=start,
        steps_per_epoch=steps,
        verbose=2,
        callbacks=[grids, checkpoints],
    )
    _print_paths(registry.export(spec, model, folder))


def _train_paired(spec, args, out: pathlib.Path) -> None:
    """Train a paired translator (pix2pix): translation grids, checkpoints, the generator."""
    from . import callbacks, data

    folder = out / spec.name
    checkpoints = _checkpoints(args, folder)
    steps, epochs = _length(args, spec, quick_steps=5)
    common = dict(image_size=args.image_size, seed=args.seed)
    dataset = data.load_paired(
        args.dataset,
        batch_size=args.batch_size,
        repeat=steps is not None,
        drop_remainder=True,
        **common,
    )
    inputs, targets = (
        x.numpy()
        for x in next(iter(data.load_paired(args.dataset, "test", batch_size=8, **common)))
    )
    model, start = _built(
        spec,
        args,
        inputs.shape[-1],
        checkpoints,
        out_channels=targets.shape[-1],
        **_options(args, spec),
    )
    print(
        f"training {type(model).__name__} on {args.dataset} at {args.image_size}px, width "
        f"{model.width}, {model.patch_size}x{model.patch_size} patches, "
        f"epochs {start + 1}..{epochs}"
    )
    grids = callbacks.PairGrid(folder / "samples", inputs, targets, every=max(1, epochs // 8))
    model.fit(
        dataset,
        epochs=epochs,
        initial_epoch=start,
        steps_per_epoch=steps,
        verbose=2,
        callbacks=[grids, checkpoints],
    )
    _print_paths(registry.export(spec, model, folder))
    print(
        f"translations: {grids.paths[-1] if grids.paths else folder / 'samples'} "
        "(rows: input, output, target)"
    )


EXAMPLE_ROWS = {"restorer": "input, output, original", "stylizer": "input, stylised"}


def _train_image_to_image(spec, args, out: pathlib.Path) -> None:
    """Train a restorer (inpainting, super-resolution, denoising) or a stylizer (fast style
    transfer) on [0, 1] images; save its network and a before/after picture of held-out images."""
    import numpy as np

    from . import data, viz

    folder = out / spec.name
    checkpoints = _checkpoints(args, folder)
    steps, epochs = _length(args, spec, quick_steps=5)
    options = _options(args, spec)
    common = dict(
        image_size=args.image_size,
        seed=args.seed,
        strict=args.strict,
        channels=spec.channels,
        value_range=spec.data_value_range(registry.settings(spec, **options)),
    )
    dataset = data.load(
        args.dataset,
        "train",
        batch_size=args.batch_size,
        drop_remainder=True,
        repeat=steps is not None,
        **common,
    )
    held_out = data.load_arrays(args.dataset, "test", limit=8, **common).images
    model, start = _built(spec, args, held_out.shape[-1], checkpoints, **options)
    style = f" for the style {model.style}" if spec.task == "stylizer" else ""
    print(
        f"training {type(model).__name__}{style} on {args.dataset} at {args.image_size}px, "
        f"epochs {start + 1}..{epochs}"
    )
    model.fit(
        dataset,
        epochs=epochs,
        initial_epoch=start,
        steps_per_epoch=steps,
        verbose=2,
        callbacks=[checkpoints],
    )
    paths = registry.export(spec, model, folder)
    rows = model.examples(held_out, seed=args.seed)
    grid = viz.image_grid(np.concatenate(rows), ncols=len(held_out), value_range=(0, 1))
    for path in paths.values():
        print(f"network:     {path}")
    print(
        f"examples:    {viz.save_image(grid, folder / 'examples.png')} "
        f"(rows: {EXAMPLE_ROWS[spec.task]})"
    )
    print(f"checkpoints: {checkpoints.directory}")


TRAINERS = {
    "classifier": _train_classifier,
    "translator": _train_translator,
    "paired translator": _train_paired,
    "restorer": _train_image_to_image,
    "stylizer": _train_image_to_image,
    "sampler": _train_sampler,
    "conditional sampler": _train_sampler,
}


def _check_options(parser, spec, args) -> None:
    """Refuse an option the model does not take; fill in the model's defaults."""
    for other in registry.specs():
        for option in other.options:
            if spec.option(option.dest) is None and getattr(args, option.dest, None) is not None:
                takers = [s.name for s in registry.specs() if s.option(option.dest) is not None]
                named = (
                    " or ".join(takers)
                    if len(takers) < 3
                    else (f"{', '.join(takers[:-1])} or {takers[-1]}")
                )
                parser.error(f"{option.flag} is a {named} option")
    if spec.option("domain_a") is not None and getattr(args, "dataset", None) is not None:
        parser.error(  # it was ignored: the run trained on the default domains
            f"--dataset does not apply to {spec.name}: it reads two domains, --domain-a and "
            "--domain-b (a dataset name or a folder each)"
        )
    for option in spec.options:
        if getattr(args, option.dest) is None:
            setattr(args, option.dest, option.default)


def _written(out: pathlib.Path, since: float) -> list:
    """What a run wrote under ``out``: the files modified since ``since`` (a ``time.time()``),
    relative to ``out``; a folder holding more than three of them is one entry with its count."""
    by_folder = {}
    for path in sorted(out.rglob("*")):
        if path.is_file() and path.stat().st_mtime >= since:
            by_folder.setdefault(path.parent, []).append(path.relative_to(out).as_posix())
    entries = []
    for folder, files in by_folder.items():
        many = f"{folder.relative_to(out).as_posix()}/ ({len(files)} files)"
        entries += files if len(files) <= 3 else [many]
    return entries


MULTI_WORKER_TASKS = ("classifier", "sampler", "conditional sampler")


def _cluster(spec, args) -> dict | None:
    """The multi-worker cluster of ``--workers`` / ``--worker-index`` (or ``TF_CONFIG``), checked;
    ``None`` for a run on one process."""
    from . import distributed

    if args.workers is None:
        if args.worker_index is not None:
            raise ValueError("--worker-index needs --workers, the list of every worker's address.")
        found = distributed.from_environment()
    else:
        found = distributed.cluster(args.workers, args.worker_index)
    if found is not None and spec.task not in MULTI_WORKER_TASKS:
        trainable = [s.name for s in registry.specs() if s.task in MULTI_WORKER_TASKS]
        raise ValueError(
            f"{spec.name} trains on one machine; --workers (or TF_CONFIG) trains "
            f"{', '.join(trainable)}."
        )
    return found


def _train(parser, args) -> int:
    import shutil
    import tempfile

    from . import hardware

    spec = registry.get(args.model)
    _check_options(parser, spec, args)
    spec = registry.variant(spec, _options(args, spec))  # e.g. diffusion --conditional
    args.strategy, args.chief, args.scratch = None, True, None
    try:
        cluster = _cluster(spec, args)
    except ValueError as error:  # before anything is written or TensorFlow starts its devices
        parser.exit(2, f"aigc-keras: error: {error}\n")
    if cluster is not None:
        from . import distributed

        # first: the collective operations are set up when TensorFlow starts its devices
        args.strategy = distributed.start(cluster)
        args.chief = distributed.is_chief(args.strategy)
    if args.quick:
        os.environ["AIGC_QUICK"] = "1"
    args.image_size = args.image_size or spec.image_size
    args.dataset = args.dataset or spec.dataset
    args.width = args.width or spec.width
    replicas = args.strategy.num_replicas_in_sync if args.strategy is not None else 1
    args.batch_size = args.batch_size or hardware.default_batch_size(spec.batch_size) * replicas
    hardware.set_precision(args.precision)
    hardware.set_jit_compile({"auto": "auto", "on": True, "off": False}[args.xla])
    out = pathlib.Path(args.out) if args.out else config.output_dir()
    if out.exists() and not out.is_dir():  # was a FileExistsError traceback
        parser.error(f"--out {str(out)!r} is a file; give a folder for the run's outputs")
    args.out_root = out
    if cluster is not None:
        # what makes the run (the output folder may be a different path on each machine)
        ignored = ("worker_index", "strategy", "chief", "out", "out_root")
        described = {k: v for k, v in vars(args).items() if k not in ignored}
        try:
            distributed.check_same_run(args.strategy, described | {"model_spec": spec.name})
        except ValueError as error:
            parser.exit(2, f"aigc-keras: error: {error}\n")
        index = cluster["task"]["index"]
        print(
            f"worker {index} of {len(cluster['cluster']['worker'])}"
            + (" (the chief: it writes the outputs)" if args.chief else "")
            + f"; global batch {args.batch_size}"
        )
        if not args.chief:
            args.scratch = pathlib.Path(tempfile.mkdtemp(prefix=f"aigc-worker{index}-"))
    if args.chief:
        out.mkdir(parents=True, exist_ok=True)
    config.set_seed(args.seed)
    with _scope(args):  # names the multi-worker strategy and its replicas
        print(hardware.environment_report(spec.model_class))
    start, began = time.perf_counter(), time.time()
    try:
        TRAINERS[spec.task](spec, args, out)
    except INPUT_ERRORS as error:  # bad dataset name, folder, size ...: a message, no traceback
        parser.exit(2, f"aigc-keras: error: {error}\n")
    except FloatingPointError as error:  # the NaN guard stopped training; the last good checkpoint
        parser.exit(1, f"aigc-keras: error: {error}\n")
    except ConnectionError as error:  # a worker of a multi-worker run went away
        parser.exit(1, f"aigc-keras: error: {error}\n")
    finally:
        if args.scratch is not None:
            shutil.rmtree(args.scratch, ignore_errors=True)
    if not args.chief:
        print(f"done in {time.perf_counter() - start:.1f} s; the chief wrote the outputs")
        return 0
    print(f"done in {time.perf_counter() - start:.1f} s; written in {out.resolve()}:")
    print("  " + ", ".join(_written(out, began)))
    return 0


# --- commands on exported networks ---------------------------------------------------------------


def _kind(record: dict) -> str:
    if record.get("task") is None:
        return ""
    model = f" ({record['model']})" if record.get("model") else ""
    return f"it is a {record['task']}{model}"


def _sampled(path, n: int, seed: int, classes=None, truncation=None, steps=None, guidance=None):
    """Images in [-1, 1] from a saved generator, or a ValueError naming what was expected."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f"no model file at {str(path)!r}.")
    if path.suffix != ".keras":
        raise ValueError(f"{str(path)!r} is not a .keras file.")
    network, record = registry.load_exported(path, "generator")
    if record.get("task") not in registry.SAMPLERS:
        why = _kind(record) or "it does not take one latent vector per image"
        samplers = [s.name for s in registry.specs() if s.task in registry.SAMPLERS]
        raise ValueError(
            f"{str(path)!r} is not a generator ({why}); sample needs a saved "
            f"generator: the generator.keras of aigc-keras train {'|'.join(samplers)}."
        )
    try:
        return registry.sample(
            network,
            record,
            n,
            seed=seed,
            classes=classes,
            truncation=truncation,
            steps=steps,
            guidance=guidance,
        )
    except ValueError as error:
        raise ValueError(
            str(error).replace("it is not a generator", f"{str(path)!r} is not a generator")
        ) from None


def _sample(args) -> None:
    from . import viz

    images = _sampled(
        args.model, args.n, args.seed, args.classes, args.truncation, args.steps, args.guidance
    )
    out = viz.save_image(viz.image_grid(images, value_range=(-1, 1)), args.out)
    print(f"wrote {args.n} samples to {out}")


def _evaluate(args) -> None:
    import numpy as np

    from . import data, judges, metrics

    images = np.clip(
        _sampled(args.model, args.n, args.seed, steps=args.steps, guidance=args.guidance),
        -1.0,
        1.0,
    )
    size, channels = images.shape[1], images.shape[-1]
    real = data.load_arrays(args.dataset, "test", image_size=size)
    if real.images.shape[-1] != channels:
        print(
            f"aigc-keras: note: the model makes {channels}-channel images and the {real.name} "
            f"test images have {real.images.shape[-1]}: they are converted to "
            + ("grey (luma)" if channels == 1 else "RGB (the grey level in every channel)")
            + " before comparing.",
            file=sys.stderr,
        )
        real = data.load_arrays(args.dataset, "test", image_size=size, channels=channels)
    n = min(args.n, len(real))
    if n < args.n:
        print(f"using {n} samples per side: the {real.name} test split holds {len(real)} images")
    kind = args.extractor or ("classifier" if channels == 1 else "inception")
    if kind == "classifier":
        if channels != 1:
            raise ValueError(
                "the classifier extractor reads 1-channel digits; use --extractor inception."
            )
        # one judge for every size: the 28x28 classifier, other sizes resized to it (their
        # figures stay comparable, and no classifier is trained per size)
        extractor = judges.ClassifierExtractor(judges.load_classifier(28), resize=size != 28)
    else:
        extractor = judges.InceptionExtractor()
    report = judges.evaluate(
        extractor,
        real.images[:n],
        images[:n],
        metrics=args.metrics,
        real_key=f"{real.name}-test-{size}px",
    )
    print(metrics.format_report(report))


def _write_each(network, args, channels: int, size: int | None, apply) -> int:
    """Apply ``apply(batch of one image in [0, 1]) -> image in [0, 1]`` to each input image and
    write PNGs keeping the input names; returns the number written."""
    from . import data, viz

    source = pathlib.Path(args.input).expanduser()
    files = data.image_files(source, strict=args.strict)
    out = pathlib.Path(args.out)
    if out.is_file():
        raise ValueError(f"--out must be a folder (the images keep their names); {out} is a file.")
    for file in files:
        image = data.read_image(file, channels, size)[None] / 255.0
        picture = viz.to_uint8(apply(image).clip(0.0, 1.0), (0, 1))[0]
        relative = file.relative_to(source) if source.is_dir() else pathlib.Path(file.name)
        viz.save_image(
            picture[..., 0] if channels == 1 else picture, (out / relative).with_suffix(".png")
        )
    return len(files)


def _translate(args) -> None:
    """Translate one image or a folder with a saved CycleGAN or pix2pix generator."""
    import keras

    from . import data

    network, record = registry.load_exported(args.model, "generator")
    shape = tuple(network.input_shape[1:]) if len(getattr(network, "inputs", []) or []) == 1 else ()
    if record.get("task") not in TRANSLATORS or len(shape) != 3:
        why = f" ({_kind(record)})" if _kind(record) else ""
        raise ValueError(
            f"{args.model!r} is not an image-to-image generator{why} (its output must "
            "have its input's size); translate needs a saved CycleGAN "
            "generator_ab.keras or generator_ba.keras, or a pix2pix generator.keras."
        )
    size, channels = shape[0], shape[2]

    def translate(image):
        fake = network(data.scale(image, (-1, 1)), training=False)
        return (keras.ops.convert_to_numpy(fake) + 1.0) / 2.0

    written = _write_each(network, args, channels, size, translate)
    print(f"translated {written} image(s) at {size}x{size} into {args.out}")


def _inpaint(args) -> None:
    """Fill the white pixels of --mask in --image with a saved inpainter; write the PNG."""
    import numpy as np

    from . import data, viz
    from .models import editing

    network, record = registry.load_exported(args.model, "inpainter")
    if record.get("model") != "inpainter":
        why = f" ({_kind(record)})" if _kind(record) else ""
        raise ValueError(
            f"{args.model!r} is not an inpainter{why} (its inputs must be image and "
            "mask); train one with aigc-keras train inpainter."
        )
    channels = network.inputs[0].shape[-1]
    image = data.read_image(pathlib.Path(args.image).expanduser(), channels)[None] / 255.0
    mask = data.read_image(pathlib.Path(args.mask).expanduser(), 1)[None] / 255.0
    if mask.shape[1:3] != image.shape[1:3]:
        raise ValueError(
            f"the mask is {mask.shape[2]}x{mask.shape[1]} pixels but the image is "
            f"{image.shape[2]}x{image.shape[1]}; they must be the same size."
        )
    if not np.isin(mask, (0.0, 1.0)).all():
        raise ValueError(
            f"the mask must be black (0: keep) and white (255: hole) only; it has "
            f"{np.unique(mask).size} grey values (save it without antialiasing)."
        )
    size = network.inputs[0].shape[1]
    if image.shape[1:3] != (size, size):
        raise ValueError(
            f"this inpainter was trained on {size}x{size} images; the image is "
            f"{image.shape[2]}x{image.shape[1]} (crop or resize it, or train at its "
            "size with --image-size)."
        )
    images, masks = editing.check_masks(image, mask)
    filled = editing.run_network(network, [images, masks])
    picture = viz.to_uint8(filled, (0, 1))[0]
    out = viz.save_image(picture[..., 0] if channels == 1 else picture, args.out)
    print(f"filled {int(masks.sum())} pixels ({masks.mean():.0%} of the image); wrote {out}")


def _enhance(args) -> None:
    """Apply a saved super-resolution or denoising network to an image or a folder."""
    from .models import editing

    network, record = registry.load_exported(args.model, "super-resolution or denoising network")
    done = {"superres": "upscaled", "denoiser": "denoised"}
    if record.get("model") not in done:
        raise ValueError(
            f"{args.model!r} is neither a super-resolution nor a denoising network "
            f"(it is {network.name!r}); train one with aigc-keras train superres or "
            "train denoiser."
        )
    channels = network.inputs[0].shape[-1]
    written = _write_each(
        network, args, channels, None, lambda image: editing.run_network(network, image)
    )
    print(f"{done[record['model']]} {written} image(s) into {args.out}")


def _dream(args) -> None:
    """DeepDream ``--input`` on InceptionV3 or the chapter-1 classifier; write the PNG."""
    from . import data, judges, viz
    from .models import style

    chosen = judges.load_dream_network(args.network)
    args.layer = args.layer or chosen.layer
    image = data.read_image(pathlib.Path(args.input).expanduser(), chosen.channels) / 127.5 - 1.0
    dreamed, record = style.deep_dream(
        chosen.network,
        args.layer,
        image,
        steps=args.steps,
        step_size=args.step_size,
        octaves=args.octaves,
        octave_scale=args.octave_scale,
    )
    pixels = viz.to_uint8(dreamed[None], (-1, 1))[0]
    out = viz.save_image(pixels[..., 0] if chosen.channels == 1 else pixels, args.out)
    gains = ", ".join(f"{r[-1] / max(r[0], 1e-8):.2f}x" for r in record)
    print(
        f"mean activation of {args.layer} per octave (end / start): {gains}; wrote "
        f"{image.shape[1]}x{image.shape[0]} to {out}"
    )


def _check_learning_rate(args) -> None:
    if not math.isfinite(args.learning_rate) or args.learning_rate <= 0:
        raise ValueError(f"--learning-rate must be a finite number > 0, got {args.learning_rate}.")


def _stylize(args) -> None:
    """Repaint ``--input`` in the style of ``--style`` by optimising its pixels, or with a trained
    fast-style-transfer network (``--model``); write the PNG."""
    import keras
    import numpy as np
    import tensorflow as tf

    from . import data, viz
    from .models import style

    if (args.style is None) == (args.model is None):
        raise ValueError(
            "give --style (optimise the photograph's pixels) or --model (a stylizer.keras "
            "trained by `aigc-keras train style`), not both and not neither."
        )
    if args.model is not None:
        network, record = registry.load_exported(args.model, "style-transfer network")
        if record.get("task") != "stylizer":
            raise ValueError(
                f"{args.model} is not a style-transfer network ({_kind(record)}); train one with "
                "`aigc-keras train style --style IMAGE`."
            )
    else:
        _check_learning_rate(args)
        for flag in ("style_weight", "content_weight", "tv_weight"):
            if not math.isfinite(getattr(args, flag)) or getattr(args, flag) < 0:
                raise ValueError(
                    f"--{flag.replace('_', '-')} must be a finite number >= 0, got "
                    f"{getattr(args, flag)}."
                )
        example = style.read_style(args.style)
    photo = data.read_image(pathlib.Path(args.input).expanduser(), 3) / 255.0
    scale = args.size / max(photo.shape[:2])
    shape = [max(1, round(side * scale)) for side in photo.shape[:2]]
    photo = tf.image.resize(photo, shape, antialias=True).numpy().clip(0.0, 1.0)
    if args.model is not None:
        start = time.perf_counter()
        result = style.stylize_images(network, photo[None])
        out = viz.save_image(np.round(result[0] * 255.0).astype(np.uint8), args.out)
        print(
            f"stylized {shape[1]}x{shape[0]} in {time.perf_counter() - start:.2f} s with "
            f"{args.model} (style {record['config']['style']}); wrote {out}"
        )
        return
    keras.utils.set_random_seed(args.seed)
    extractor = style.transfer_extractor(args.network, calibration=example, seed=args.seed)
    transfer = style.ImageOptimisation(
        extractor,
        example,
        photo[None],
        content=photo,
        style_weight=args.style_weight,
        content_weight=args.content_weight,
        tv_weight=args.tv_weight,
    )
    transfer.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
    epochs = 10 if args.steps % 10 == 0 else 1  # a progress line per tenth of the steps
    transfer.optimise(args.steps, epochs=epochs, verbose=2)
    result = transfer.result()
    ours, as_photo = transfer.losses_of(result), transfer.losses_of(photo[None])
    out = viz.save_image(np.round(result[0] * 255.0).astype(np.uint8), args.out)
    before, after = float(as_photo["style"]), float(ours["style"])
    print(
        f"style loss {before:.4f} (the photograph) -> {after:.4f}; "
        f"content loss {float(ours['content']):.4f} after {args.steps} steps; "
        f"wrote {shape[1]}x{shape[0]} to {out}"
    )


def _texture(args) -> None:
    """Synthesise ``--n`` textures like ``--style`` and write them side by side as one PNG."""
    import keras
    import numpy as np

    from . import viz
    from .models import style

    example = style.read_style(args.style)
    _check_learning_rate(args)
    keras.utils.set_random_seed(args.seed)
    extractor = style.load_extractor(args.network, calibration=example, seed=args.seed)
    noise = style.noise_images(args.n, args.size, seed=args.seed)
    synthesis = style.ImageOptimisation(extractor, example, noise)
    synthesis.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
    start = float(synthesis.losses_of(synthesis.image)["style"])
    epochs = 10 if args.steps % 10 == 0 else 1  # a progress line per tenth of the steps
    history = synthesis.optimise(args.steps, epochs=epochs, verbose=2).history
    end = history["style"][-1]
    grid = viz.image_grid(synthesis.result(), ncols=args.n, value_range=(0, 1))
    out = viz.save_image(np.asarray(grid), args.out)
    print(
        f"Gram loss {start:.4f} -> {end:.4f} ({1 - end / start:.1%} lower) after {args.steps} "
        f"steps; wrote {args.n} texture(s) of {args.size}x{args.size} to {out}"
    )


APPLY = {
    "texture": _texture,
    "stylize": _stylize,
    "dream": _dream,
    "sample": _sample,
    "eval": _evaluate,
    "translate": _translate,
    "inpaint": _inpaint,
    "enhance": _enhance,
}


def main(argv=None) -> int:
    """Run the command line.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status (errors exit through ``SystemExit``).
    """
    # Before the registry imports the model files (and TensorFlow) to build the parser.
    config.start_tensorflow()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "info":
        from . import data, hardware

        print(hardware.environment_report())
        print(data.describe())
        return 0
    if args.command == "train":
        return _train(parser, args)
    try:
        APPLY[args.command](args)
    except (*INPUT_ERRORS, RuntimeError) as error:
        if args.command in ("sample", "eval") and isinstance(error, ValueError):
            raise SystemExit(f"aigc-keras: error: {error}") from None
        parser.exit(2, f"aigc-keras: error: {error}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
