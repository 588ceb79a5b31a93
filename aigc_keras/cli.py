"""The ``aigc-keras`` command (also ``python -m aigc_keras``).

    aigc-keras info
    aigc-keras train cnn|dcgan|cgan|wgan-gp|vae|cvae|vaegan [--dataset digits] [--epochs N] [--out DIR] [--quick]
                    [--resume | --overwrite]
    aigc-keras train stylegan [--dataset digits] [--image-size 32] [--augment translation,cutout,color] ...
    aigc-keras train cyclegan --domain-a grass --domain-b brick [--image-size 32] [--width 8] ...
    aigc-keras translate --model generator_ab.keras --input IMAGE_OR_FOLDER --out FOLDER
    aigc-keras train pixelcnn [--levels 4] [--image-size 16] ...
    aigc-keras train inpainter [--dataset digits] | superres [--scale 2|4] | denoiser [--noise-std 0.1] ...
    aigc-keras inpaint --model inpainter.keras --image IMAGE --mask MASK.png --out FILLED.png
    aigc-keras enhance --model superres_x2.keras|denoiser.keras --input IMAGE_OR_FOLDER --out FOLDER
    aigc-keras sample --model generator.keras [--n 64] [--out samples.png] [--truncation 0.7]
    aigc-keras eval --model generator.keras --dataset digits [--metrics fid,kid,is,pr] [--n 1000]

Every chapter adds its model to ``train``; this is the only module that imports
every chapter.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

MODELS = ("cnn", "dcgan", "cgan", "wgan-gp", "vae", "cvae", "vaegan", "stylegan", "cyclegan", "pixelcnn",
          "inpainter", "superres", "denoiser")
EDITING = ("inpainter", "superres", "denoiser")
# Passes over the 1,437 offline digits (CycleGAN: over 600 crops per texture domain): a few minutes
# each on a 2-core CPU.
EPOCHS = {"dcgan": 40, "cgan": 40, "wgan-gp": 15, "vae": 40, "cvae": 40, "vaegan": 40, "stylegan": 40, "cyclegan": 8,
          "pixelcnn": 40, "inpainter": 40, "superres": 20, "denoiser": 20}
IMAGE_SIZE = {"cyclegan": 32, "stylegan": 32, "pixelcnn": 16, "superres": 32, "denoiser": 32}  # the others: 28
BATCH_SIZE = {"cyclegan": 8, "stylegan": 32, "superres": 16, "denoiser": 16, "inpainter": 32}  # the others: 64
DATASET = {"superres": "photos", "denoiser": "photos"}  # the others: digits
CONDITIONAL = ("cgan", "cvae")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


STRICT_HELP = ("refuse a folder that holds unreadable or non-image files (default: skip them and say how many, "
               "naming the first three)")


def _image_folder_command(commands, name: str, help_text: str, description: str, model: str, written: str) -> None:
    """A command that applies a saved image-to-image network: ``--model``, ``--input`` (file or folder), ``--out``."""
    command = commands.add_parser(name, help=help_text, description=description)
    command.add_argument("--model", required=True, help=f"path of {model} (.keras)")
    command.add_argument("--input", required=True, help="an image file or a folder of images")
    command.add_argument("--out", required=True, help=f"folder for the {written} PNGs (created if needed)")
    command.add_argument("--strict", action="store_true", help=STRICT_HELP)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aigc-keras", description="Train and sample the aigc_keras models.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{info,train,sample,eval,translate,inpaint,enhance}")

    commands.add_parser("info", help="print the environment line and the offline datasets",
                        description="Print TensorFlow/Keras versions, device, precision, XLA, mode and datasets.")

    train = commands.add_parser("train", help="train a model", description="Train a model and save it under --out.")
    train.add_argument("model", choices=MODELS, help="which model to train")
    train.add_argument("--dataset", default=None,
                       help="dataset name (digits, mnist, photos, ...) or a folder of images "
                            "(default: digits; superres and denoiser: photos)")
    train.add_argument("--epochs", type=_positive_int, default=None, help="epochs (default: the model's standard)")
    train.add_argument("--steps", type=_positive_int, default=None, help="optimizer steps per epoch (default: one pass)")
    train.add_argument("--batch-size", type=_positive_int, default=None, help="batch size (default: 64; cyclegan 8)")
    train.add_argument("--image-size", type=_positive_int, default=None,
                       help="image height and width (default: 28; cyclegan 32)")
    train.add_argument("--out", default=None, help="output folder (default: $AIGC_OUTPUT or outputs/)")
    train.add_argument("--quick", action="store_true", help="a few seconds of training (smoke test)")
    train.add_argument("--seed", type=_non_negative_int, default=0, help="random seed (default: 0)")
    train.add_argument("--width", type=_positive_int, default=None,
                       help="network width: GANs' base filters, CycleGAN's ngf with ndf = 4 x ngf "
                            "(default: 64; cyclegan 8)")
    train.add_argument("--domain-a", default="grass",
                       help="cyclegan: domain A, a dataset name or folder; a TFDS pair such as "
                            "cycle_gan/horse2zebra gives both domains (default: grass)")
    train.add_argument("--domain-b", default=None,
                       help="cyclegan: domain B, a dataset name or folder (default: brick, or the pair's B)")
    train.add_argument("--augment", type=_augment_list, default=None,
                       help="stylegan: differentiable augmentations for small datasets in long runs, a "
                            "comma-separated subset of translation,cutout,color, or none (default: none)")
    train.add_argument("--levels", type=_positive_int, default=4,
                       help="pixelcnn: grey levels per pixel, at least 2 (default: 4)")
    train.add_argument("--scale", type=int, choices=(2, 4), default=2, help="superres: upscaling factor (default: 2)")
    train.add_argument("--noise-std", type=_open_unit_interval, default=0.1,
                       help="denoiser: standard deviation of the Gaussian noise in [0, 1] units (default: 0.1)")
    train.add_argument("--strict", action="store_true", help=STRICT_HELP)
    train.add_argument("--precision", choices=("auto", "float32", "mixed_float16", "mixed_bfloat16"), default="auto",
                       help="dtype policy (default auto: mixed_float16 on a GPU with tensor cores, mixed_bfloat16 on "
                            "a TPU; on a CPU per model: mixed_bfloat16 where the CPU has bfloat16 instructions and "
                            "the benchmark measured it faster, float32 otherwise)")
    train.add_argument("--xla", choices=("auto", "on", "off"), default="auto",
                       help="XLA compilation (default auto: on on a GPU; on a CPU per model, on where the benchmark "
                            "measured it faster)")
    again = train.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    again.add_argument("--overwrite", action="store_true", help="discard checkpoints in --out and start again")

    sample = commands.add_parser("sample", help="draw a grid of samples from a saved generator",
                                 description="Load a saved generator (.keras, safe mode) and write a PNG grid.")
    sample.add_argument("--model", required=True, help="path of a saved generator (.keras)")
    sample.add_argument("--n", type=_positive_int, default=64, help="number of samples (default: 64)")
    sample.add_argument("--out", default="samples.png", help="PNG file to write (default: samples.png)")
    sample.add_argument("--seed", type=_non_negative_int, default=0, help="random seed (default: 0)")
    sample.add_argument("--classes", type=_class_list, default=None,
                        help="for a class-conditional generator: comma-separated classes to draw, cycled "
                             "(default: every class in turn)")
    sample.add_argument("--truncation", type=_unit_interval, default=None,
                        help="for a StyleGAN generator: truncation psi in [0, 1] (1: none, 0.7: typical; default 1)")

    _image_folder_command(commands, "translate", "translate images with a saved CycleGAN generator",
                          "Load a saved generator_ab.keras or generator_ba.keras (safe mode), translate one image or "
                          "every image in a folder, write PNGs.", "a saved CycleGAN generator", "translated")

    inpaint = commands.add_parser("inpaint", help="fill the holes of an image with a saved inpainter",
                                  description="Load a saved inpainter.keras (safe mode) and fill the white pixels of "
                                              "--mask in --image; known pixels are kept exactly.")
    inpaint.add_argument("--model", required=True, help="path of a saved inpainter (.keras)")
    inpaint.add_argument("--image", required=True, help="the image to repair")
    inpaint.add_argument("--mask", required=True,
                         help="a black-and-white PNG of the image's size: white (255) = hole, black (0) = keep")
    inpaint.add_argument("--out", default="inpainted.png", help="PNG file to write (default: inpainted.png)")

    _image_folder_command(commands, "enhance", "upscale or denoise images with a saved model",
                          "Load a saved superres_x2/x4.keras or denoiser.keras (safe mode) and apply it to one image "
                          "or every image in a folder.", "a saved super-resolution or denoising network", "enhanced")

    evaluate = commands.add_parser("eval", help="score a saved generator against real data",
                                   description="Fréchet/kernel distance, Inception-style score and precision/recall "
                                               "of a saved generator's samples against a dataset's test split.")
    evaluate.add_argument("--model", required=True, help="path of a saved generator (.keras)")
    evaluate.add_argument("--dataset", default="digits", help="real data to compare with (default: digits)")
    evaluate.add_argument("--metrics", type=_metric_list, default=("fid", "kid", "is", "pr"),
                          help="comma-separated subset of fid,kid,is,pr (default: all)")
    evaluate.add_argument("--n", type=_positive_int, default=1000,
                          help="samples per side, capped at what the real split holds (default: 1000)")
    evaluate.add_argument("--extractor", choices=("classifier", "inception"), default=None,
                          help="feature extractor (default: classifier for 1-channel images, else inception)")
    evaluate.add_argument("--seed", type=_non_negative_int, default=0, help="random seed (default: 0)")
    return parser


def _class_list(text: str) -> list:
    try:
        classes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"classes must be comma-separated integers, got {text!r}") from None
    if not classes or min(classes) < 0:
        raise argparse.ArgumentTypeError(f"classes must be non-negative integers, got {text!r}")
    return classes


def _fraction(text: str, closed: bool) -> float:
    interval = "[0, 1]" if closed else "(0, 1)"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in {interval}, got {text!r}") from None
    if not (0.0 <= value <= 1.0 if closed else 0.0 < value < 1.0):
        raise argparse.ArgumentTypeError(f"expected a number in {interval}, got {value}")
    return value


def _unit_interval(text: str) -> float:
    return _fraction(text, closed=True)


def _open_unit_interval(text: str) -> float:
    return _fraction(text, closed=False)


def _augment_list(text: str) -> tuple:
    from .layers import AUGMENTS

    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if names == ("none",):
        return ()
    bad = [n for n in names if n not in AUGMENTS]
    if not names or bad:
        raise argparse.ArgumentTypeError(f"augment must be 'none' or a comma-separated subset of "
                                         f"{','.join(AUGMENTS)}, got {text!r}")
    return names


def _metric_list(text: str) -> tuple:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    allowed = ("fid", "kid", "is", "pr")
    bad = [n for n in names if n not in allowed]
    if not names or bad:
        raise argparse.ArgumentTypeError(f"metrics must be a comma-separated subset of {','.join(allowed)}, got {text!r}")
    return names


def _train_cnn(args, out: pathlib.Path) -> None:
    import keras
    import numpy as np

    from . import config, data, viz
    from .models import cnn

    epochs = args.epochs or (2 if args.quick else 20)
    train = data.load_arrays(args.dataset, "train", image_size=args.image_size, limit=256 if args.quick else None,
                             strict=args.strict)
    test = data.load_arrays(args.dataset, "test", image_size=args.image_size, limit=128 if args.quick else None,
                            strict=args.strict)
    if train.labels is None:
        raise SystemExit(f"aigc-keras: error: dataset {args.dataset!r} has no labels; a classifier needs them.")
    print(f"training CNNClassifier on {len(train)} {train.name} images ({train.source}), "
          f"testing on {len(test)}, {epochs} epochs")
    keras.utils.set_random_seed(args.seed)
    model = cnn.CNNClassifier(image_size=args.image_size, channels=train.images.shape[-1],
                              num_classes=max(int(train.labels.max()) + 1, 2))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=config.jit_compile(cnn.CNNClassifier),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    checkpoints = _checkpoints(args, out / "cnn")
    dataset = data.load(args.dataset, "train", image_size=args.image_size, batch_size=args.batch_size, labels=True,
                        repeat=args.steps is not None, seed=args.seed, limit=256 if args.quick else None,
                        strict=args.strict)
    start = checkpoints.restore(model) if args.resume else 0
    if start >= epochs:
        print(f"the checkpoint is already at epoch {start} of {epochs}; pass a larger --epochs to train further")
    model.fit(dataset, epochs=epochs, initial_epoch=start, steps_per_epoch=args.steps, callbacks=[checkpoints],
              verbose=2)
    probs = model.predict_proba(test.images)
    accuracy = float(np.mean(probs.argmax(1) == test.labels))
    model_path = cnn.save_atomically(model, out / "cnn.keras")
    shown = min(36, len(test))
    names = test.class_names or tuple(str(i) for i in range(probs.shape[1]))
    captions = [f"{names[p]}" + ("" if p == t else f" (true {names[t]})")
                for p, t in zip(probs[:shown].argmax(1), test.labels[:shown])]
    grid_path = out / "cnn_predictions.png"
    viz.show_images(test.images[:shown], labels=captions, ncols=6, path=grid_path,
                    title=f"held-out accuracy {accuracy:.1%}")
    print(f"held-out accuracy: {accuracy:.4f} on {len(test)} images")
    print(f"model:   {model_path}")
    print(f"picture: {grid_path}")


def _checkpoints(args, folder: pathlib.Path):
    """The run's checkpoint callback; refuses to start over an earlier run unless told how."""
    from . import callbacks

    checkpoints = callbacks.Checkpoint(folder / "checkpoints")
    if checkpoints.latest() is not None and not (args.resume or args.overwrite):
        raise ValueError(f"{folder} already holds a checkpoint ({checkpoints.latest().name}); pass --resume to "
                         "continue it or --overwrite to start again.")
    if args.overwrite:
        for _, old in checkpoints.checkpoints():
            old.unlink()
    return checkpoints


def _train_generative(args, out: pathlib.Path) -> None:
    """Train a GAN, VAE, StyleGAN or PixelCNN: sample grids, full-state checkpoints, the saved generator
    (decoder, or PixelCNN network)."""
    import numpy as np

    from . import callbacks, data, viz
    from .models import base, gan, pixelcnn, vae

    autoregressive = args.model in pixelcnn.MODELS

    folder = out / args.model
    checkpoints = _checkpoints(args, folder)
    conditional = args.model in CONDITIONAL
    steps = args.steps or (10 if args.quick else None)
    epochs = args.epochs or (2 if args.quick else EPOCHS[args.model])
    value_range = (0, 1) if args.model in vae.MODELS else (-1, 1)  # Bernoulli VAEs model [0, 1] pixels
    if autoregressive:
        if args.levels < 2:
            raise ValueError(f"--levels must be at least 2, got {args.levels}.")
        value_range = args.levels  # integer levels; PixelCNN is grayscale: colour datasets are converted
    channels = 1 if autoregressive else None
    arrays = data.load_arrays(args.dataset, "train", image_size=args.image_size, value_range=value_range,
                              channels=channels, strict=args.strict)
    if conditional and arrays.labels is None:
        raise ValueError(f"dataset {args.dataset!r} has no labels; the conditional {args.model} needs them.")
    dataset = data.load(args.dataset, "train", image_size=args.image_size, batch_size=args.batch_size,
                        labels=conditional, seed=args.seed, drop_remainder=True, repeat=steps is not None,
                        value_range=value_range, channels=channels, strict=args.strict)
    options = {"image_size": args.image_size, "channels": arrays.images.shape[-1], "seed": args.seed}
    if autoregressive:
        options = {"image_size": args.image_size, "levels": args.levels, "seed": args.seed}
    if conditional:
        options["num_classes"] = int(arrays.labels.max()) + 1
    if args.width:
        options["filters" if autoregressive else "width"] = args.width
    if args.model == "stylegan":
        options["augment"] = args.augment or None
    elif args.augment is not None:
        raise ValueError("--augment is a stylegan option.")
    model = model_class(args.model)(**options)
    model.compile()
    start = checkpoints.restore(model) if args.resume else 0
    if start >= epochs:
        print(f"the checkpoint is already at epoch {start} of {epochs}; pass a larger --epochs to train further")
    print(f"training {type(model).__name__} on {len(arrays)} {arrays.name} images ({arrays.source}), "
          f"epochs {start + 1}..{epochs}")
    grids = callbacks.SampleGrid(folder / "samples", every=max(1, epochs // 10), n=100 if conditional else 64)
    model.fit(dataset, epochs=epochs, initial_epoch=start, steps_per_epoch=steps, verbose=2,
              callbacks=[grids, checkpoints])
    if args.model == "stylegan":
        network = model.export_generator()  # [z, psi, noise...] -> image, EMA weights and w_avg
    elif autoregressive:
        network = model.network  # images in [-1, 1] -> per-pixel logits; `aigc-keras sample` runs the loop
    else:
        network = model.generator if args.model in gan.MODELS else model.image_generator()
    model_path = base.save_atomically(network, folder / "generator.keras")  # z (, label) -> image in [-1, 1]
    labels = np.arange(100) % model.num_classes if conditional else None
    images = model.generate(None if conditional else 64, labels=labels, seed=args.seed)
    grid_path = viz.save_image(viz.image_grid(images, ncols=10 if conditional else None,
                                              value_range=model.value_range), folder / "samples.png")
    print(f"generator:   {model_path}")
    print(f"samples:     {grid_path}")
    print(f"checkpoints: {checkpoints.directory}")


def _train_cyclegan(args, out: pathlib.Path) -> None:
    """Train a CycleGAN between two domains: translation grids, checkpoints, both generators saved."""
    from . import callbacks, data
    from .models import base, cyclegan

    folder = out / "cyclegan"
    checkpoints = _checkpoints(args, folder)
    domain_b = args.domain_b
    if domain_b is None and not str(args.domain_a).startswith("cycle_gan/"):
        domain_b = "brick"
    steps = args.steps or (5 if args.quick else None)
    epochs = args.epochs or (2 if args.quick else EPOCHS["cyclegan"])
    common = dict(image_size=args.image_size, seed=args.seed, strict=args.strict)
    dataset = data.load_unpaired(args.domain_a, domain_b, batch_size=args.batch_size, repeat=steps is not None,
                                 **common)
    held_out = next(iter(data.load_unpaired(args.domain_a, domain_b, "test", batch_size=8, **common)))
    images_a, images_b = (x.numpy() for x in held_out)
    width = args.width or 8
    # The discriminators are cheap next to six generator passes a step: give them 4x the width.
    model = cyclegan.CycleGAN(image_size=args.image_size, channels=images_a.shape[-1], ngf=width, ndf=4 * width,
                              seed=args.seed)
    per_epoch = steps or int(dataset.cardinality().numpy())
    if per_epoch < 0:  # unknown cardinality: count one pass
        per_epoch = sum(1 for _ in dataset)
    total = epochs * per_epoch
    model.compile(optimizers=cyclegan.make_optimizers(total_steps=total))
    start = checkpoints.restore(model) if args.resume else 0
    print(f"training CycleGAN {args.domain_a} <-> {domain_b or args.domain_a + ' (B)'} at {args.image_size}px, "
          f"ngf {width}, ndf {4 * width}, {model.n_blocks} residual blocks, {model.patch_size}x{model.patch_size} patches, "
          f"epochs {start + 1}..{epochs} ({total} steps, learning rate constant for the first half)")
    grids = callbacks.TranslationGrid(folder / "samples", images_a, images_b, every=max(1, epochs // 8))
    model.fit(dataset, epochs=epochs, initial_epoch=start, steps_per_epoch=steps, verbose=2,
              callbacks=[grids, checkpoints])
    for name in ("generator_ab", "generator_ba"):
        print(f"{name}: {base.save_atomically(getattr(model, name), folder / f'{name}.keras')}")
    grids.on_epoch_end(epochs - 1)
    print(f"translations: {grids.paths[-1]}")
    print(f"checkpoints:  {checkpoints.directory}")


def _load_network(model_path: str, what: str):
    """A saved ``.keras`` network, loaded in safe mode (no code runs), or a clear error."""
    import keras

    from . import layers  # noqa: F401 (registers the package's layers for loading)

    path = pathlib.Path(model_path)
    if not path.is_file() or path.suffix != ".keras":
        raise ValueError(f"no saved {what} (.keras file) at {str(path)!r}.")
    return keras.saving.load_model(path, safe_mode=True, compile=False)


def _translate(args) -> None:
    """Translate one image or a folder with a saved generator; PNGs keep the input names."""
    import keras
    import numpy as np

    from . import data, viz

    path = pathlib.Path(args.model)
    model = _load_network(args.model, "generator")
    shape = tuple(model.input_shape[1:]) if len(getattr(model, "inputs", []) or []) == 1 else ()
    if len(shape) != 3 or tuple(model.output_shape[1:]) != shape:
        raise ValueError(f"{str(path)!r} is not an image-to-image generator (its output must have its input's "
                         f"shape); translate needs a saved CycleGAN generator_ab.keras or generator_ba.keras.")
    source = pathlib.Path(args.input).expanduser()
    files = data.image_files(source, strict=args.strict)
    size, channels = shape[0], shape[2]
    out = pathlib.Path(args.out)
    for file in files:
        image = data.read_image(file, channels, size)
        translated = keras.ops.convert_to_numpy(model(data.scale(image[None] / 255.0, (-1, 1)), training=False))
        relative = file.relative_to(source) if source.is_dir() else pathlib.Path(file.name)
        picture = viz.to_uint8(np.clip(translated, -1.0, 1.0))[0]  # (H, W, C) uint8
        viz.save_image(picture[..., 0] if channels == 1 else picture, (out / relative).with_suffix(".png"))
    print(f"translated {len(files)} image(s) at {size}x{size} into {out}")


def _train_editing(args, out: pathlib.Path) -> None:
    """Train the inpainter, super-resolution or denoising model on [0, 1] images; save its network and a
    before/after picture of held-out images."""
    import numpy as np

    from . import data, viz
    from .models import base, editing

    folder = out / args.model
    checkpoints = _checkpoints(args, folder)
    steps = args.steps or (5 if args.quick else None)
    epochs = args.epochs or (2 if args.quick else EPOCHS[args.model])
    common = dict(image_size=args.image_size, value_range=(0, 1), seed=args.seed, strict=args.strict)
    dataset = data.load(args.dataset, "train", batch_size=args.batch_size, drop_remainder=True,
                        repeat=steps is not None, **common)
    held_out = data.load_arrays(args.dataset, "test", limit=8, **common).images
    channels, width = held_out.shape[-1], args.width or 32
    if args.model == "inpainter":
        model = editing.Inpainter(args.image_size, channels, width=width, seed=args.seed)
        masks = editing.free_form_masks(len(held_out), args.image_size, seed=args.seed)
        show = lambda: [held_out * (1 - masks), model.inpaint(held_out, masks), held_out]  # noqa: E731
        name = "inpainter"
    elif args.model == "superres":
        model = editing.SuperResolution(args.scale, channels, width=width, seed=args.seed)
        name = f"superres_x{args.scale}"

        def show():
            low = model.degrade(held_out).numpy()
            return [np.repeat(np.repeat(low, args.scale, 1), args.scale, 2), model.upscale(low), held_out]
    else:
        model = editing.Denoiser(channels, width=width, noise_std=args.noise_std, seed=args.seed)
        name = "denoiser"

        def show():
            noisy = model.degrade(held_out).numpy()
            return [np.clip(noisy, 0, 1), model.denoise(noisy), held_out]
    model.compile()
    start = checkpoints.restore(model) if args.resume else 0
    print(f"training {type(model).__name__} on {args.dataset} at {args.image_size}px, epochs {start + 1}..{epochs}")
    model.fit(dataset, epochs=epochs, initial_epoch=start, steps_per_epoch=steps, verbose=2, callbacks=[checkpoints])
    model_path = base.save_atomically(model.network, folder / f"{name}.keras")
    grid = viz.image_grid(np.concatenate(show()), ncols=len(held_out), value_range=(0, 1))
    print(f"network:     {model_path}")
    print(f"examples:    {viz.save_image(grid, folder / 'examples.png')} (rows: input, output, original)")
    print(f"checkpoints: {checkpoints.directory}")


def _inpaint(args) -> None:
    """Fill the white pixels of --mask in --image with a saved inpainter; write the PNG."""
    import numpy as np

    from . import data, viz
    from .models import editing

    network = _load_network(args.model, "inpainter")
    if [t.name.split(":")[0] for t in network.inputs] != ["image", "mask"]:
        raise ValueError(f"{args.model!r} is not an inpainter (its inputs must be image and mask); "
                         "train one with aigc-keras train inpainter.")
    channels = network.inputs[0].shape[-1]
    image = data.read_image(pathlib.Path(args.image).expanduser(), channels)[None] / 255.0  # (1, H, W, C)
    mask = data.read_image(pathlib.Path(args.mask).expanduser(), 1)[None] / 255.0           # (1, h, w, 1)
    if mask.shape[1:3] != image.shape[1:3]:
        raise ValueError(f"the mask is {mask.shape[2]}x{mask.shape[1]} pixels but the image is "
                         f"{image.shape[2]}x{image.shape[1]}; they must be the same size.")
    if not np.isin(mask, (0.0, 1.0)).all():
        raise ValueError(f"the mask must be black (0: keep) and white (255: hole) only; it has "
                         f"{np.unique(mask).size} grey values (save it without antialiasing).")
    size = network.inputs[0].shape[1]
    if image.shape[1:3] != (size, size):
        raise ValueError(f"this inpainter was trained on {size}x{size} images; the image is "
                         f"{image.shape[2]}x{image.shape[1]} (crop or resize it, or train at its size with --image-size).")
    images, masks = editing.check_masks(image, mask)
    filled = editing.run_network(network, [images, masks])
    picture = viz.to_uint8(filled, (0, 1))[0]
    out = viz.save_image(picture[..., 0] if channels == 1 else picture, args.out)
    print(f"filled {int(masks.sum())} pixels ({masks.mean():.0%} of the image); wrote {out}")


def _enhance(args) -> None:
    """Apply a saved super-resolution or denoising network to an image or a folder; write PNGs."""
    from . import data, viz
    from .models import editing

    network = _load_network(args.model, "super-resolution or denoising network")
    kinds = {"super_resolution": "upscaled", "denoiser": "denoised"}
    if network.name not in kinds:
        raise ValueError(f"{args.model!r} is neither a super-resolution nor a denoising network (it is "
                         f"{network.name!r}); train one with aigc-keras train superres or train denoiser.")
    channels = network.inputs[0].shape[-1]
    source = pathlib.Path(args.input).expanduser()
    files = data.image_files(source, strict=args.strict)
    out = pathlib.Path(args.out)
    for file in files:
        image = data.read_image(file, channels)[None] / 255.0
        picture = viz.to_uint8(editing.run_network(network, image).clip(0.0, 1.0), (0, 1))[0]
        relative = file.relative_to(source) if source.is_dir() else pathlib.Path(file.name)
        viz.save_image(picture[..., 0] if channels == 1 else picture, (out / relative).with_suffix(".png"))
    print(f"{kinds[network.name]} {len(files)} image(s) into {out}")


def _load_generator(model_path: str, n: int, seed: int, classes=None, truncation=None):
    """Load a saved generator (safe mode) and draw ``n`` images in [-1, 1].

    A class-conditional generator (inputs: latent, label) draws ``classes`` cycled to ``n``
    (default: every class in turn).  A StyleGAN generator (inputs: latent, truncation_psi,
    noise maps) draws its noise here and applies ``truncation`` (default 1, none).
    """
    import keras
    import numpy as np

    path = pathlib.Path(model_path)
    if not path.is_file():
        raise SystemExit(f"aigc-keras: error: no model file at {str(path)!r}.")
    if path.suffix != ".keras":
        raise SystemExit(f"aigc-keras: error: {str(path)!r} is not a .keras file.")
    model = keras.saving.load_model(path, safe_mode=True, compile=False)
    if hasattr(model, "generate"):
        images = model.generate(n, seed=seed)
    else:
        inputs = getattr(model, "inputs", None) or []
        names = [t.name.split(":")[0] for t in inputs]
        rng = np.random.default_rng(seed)
        if names[:1] == ["images"] and len(inputs[0].shape) == 4:  # a PixelCNN network: sample pixel by pixel
            from .models import pixelcnn

            if truncation is not None or classes is not None:
                raise SystemExit("aigc-keras: error: --truncation and --classes do not apply to a PixelCNN.")
            model = pixelcnn.PixelCNN.from_network(model)
            return model.dequantise(model.generate(n, seed=seed))
        if names[1:2] == ["truncation_psi"] and all(name.startswith("noise_") for name in names[2:]):
            if classes is not None:
                raise SystemExit("aigc-keras: error: --classes needs a class-conditional generator.")
            latents = rng.standard_normal((n, inputs[0].shape[1])).astype(np.float32)
            psi = np.full((n, 1), 1.0 if truncation is None else truncation, np.float32)
            noise = [rng.standard_normal((n, *t.shape[1:])).astype(np.float32) for t in inputs[2:]]
            return np.clip(keras.ops.convert_to_numpy(model([latents, psi, *noise], training=False)), -1.0, 1.0)
        if truncation is not None:
            raise SystemExit("aigc-keras: error: --truncation needs a StyleGAN generator (aigc-keras train stylegan).")
        if not inputs or len(inputs[0].shape) != 2 or names[1:] not in ([], ["label"]):
            raise SystemExit(f"aigc-keras: error: {str(path)!r} is not a generator (it does not take one latent "
                             f"vector per image); sample needs a saved generator.")
        latents = rng.standard_normal((n, inputs[0].shape[1])).astype(np.float32)
        if len(inputs) == 2:
            num_classes = model.get_layer("label_one_hot").num_tokens
            classes = list(range(num_classes)) if classes is None else classes
            if max(classes) >= num_classes:
                raise SystemExit(f"aigc-keras: error: this generator knows classes 0..{num_classes - 1}, got {classes}.")
            labels = np.resize(np.array(classes, np.int32), n)
            images = keras.ops.convert_to_numpy(model([latents, labels], training=False))
        elif classes is not None:
            raise SystemExit("aigc-keras: error: --classes needs a class-conditional generator.")
        else:
            images = keras.ops.convert_to_numpy(model(latents, training=False))
    return images


def _sample(args) -> None:
    from . import viz

    images = _load_generator(args.model, args.n, args.seed, args.classes, args.truncation)
    out = viz.save_image(viz.image_grid(images, value_range=(-1, 1)), args.out)
    print(f"wrote {args.n} samples to {out}")


def _evaluate(args) -> None:
    import numpy as np

    from . import data, metrics

    images = np.clip(_load_generator(args.model, args.n, args.seed), -1.0, 1.0)
    size, channels = images.shape[1], images.shape[-1]
    real = data.load_arrays(args.dataset, "test", image_size=size, channels=channels)
    n = min(args.n, len(real))
    if n < args.n:
        print(f"using {n} samples per side: the {real.name} test split holds {len(real)} images")
    kind = args.extractor or ("classifier" if channels == 1 else "inception")
    if kind == "classifier":
        from .models import cnn

        if channels != 1:
            raise ValueError("the classifier extractor reads 1-channel digits; use --extractor inception.")
        extractor = metrics.ClassifierExtractor(cnn.load_classifier(size))
    else:
        extractor = metrics.InceptionExtractor()
    report = metrics.evaluate(extractor, real.images[:n], images[:n], metrics=args.metrics,
                              real_key=f"{real.name}-test-{size}px")
    print(metrics.format_report(report))


# What a user's bad input raises inside a command: printed as one line, not a traceback.
INPUT_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError)


def model_class(name: str):
    """The model class ``aigc-keras train NAME`` makes."""
    from .models import cnn, cyclegan, editing, gan, pixelcnn, stylegan, vae

    return {"cnn": cnn.CNNClassifier, "cyclegan": cyclegan.CycleGAN, **gan.MODELS, **vae.MODELS, **stylegan.MODELS,
            **pixelcnn.MODELS, **editing.MODELS}[name]


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from . import config

    if args.command == "info":
        from . import data

        print(config.environment_report())
        print(data.describe())
        return 0
    if args.command in ("sample", "eval", "translate", "inpaint", "enhance"):
        try:
            {"sample": _sample, "eval": _evaluate, "translate": _translate, "inpaint": _inpaint,
             "enhance": _enhance}[args.command](args)
        except (*INPUT_ERRORS, RuntimeError) as error:
            parser.exit(2, f"aigc-keras: error: {error}\n")
        return 0
    if args.quick:
        os.environ["AIGC_QUICK"] = "1"
    args.image_size = args.image_size or IMAGE_SIZE.get(args.model, 28)
    args.dataset = args.dataset or DATASET.get(args.model, "digits")
    args.batch_size = args.batch_size or config.default_batch_size(BATCH_SIZE.get(args.model, config.RECIPE_BATCH))
    config.set_precision(args.precision)
    config.set_jit_compile({"auto": "auto", "on": True, "off": False}[args.xla])
    out = pathlib.Path(args.out) if args.out else config.output_dir()
    out.mkdir(parents=True, exist_ok=True)
    config.set_seed(args.seed)
    print(config.environment_report(model_class(args.model)))
    start = time.perf_counter()
    try:
        if args.model == "cnn":
            _train_cnn(args, out)
        elif args.model == "cyclegan":
            _train_cyclegan(args, out)
        elif args.model in EDITING:
            _train_editing(args, out)
        else:
            _train_generative(args, out)
    except INPUT_ERRORS as error:  # bad dataset name, folder, size ...: a message, not a traceback
        parser.exit(2, f"aigc-keras: error: {error}\n")
    except FloatingPointError as error:  # the NaN guard stopped training; the last good checkpoint is kept
        parser.exit(1, f"aigc-keras: error: {error}\n")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
