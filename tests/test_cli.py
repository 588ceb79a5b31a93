"""The aigc-keras command line."""

import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

from aigc_keras import cli, registry


def _run(*args, env_extra=None):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "aigc_keras", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


# Every registered model trained once from the command line for one step (small settings; some carry
# the options the tests below exercise), shared by those tests.
SETTINGS = {
    "stylegan": ["--image-size", "16", "--augment", "translation"],
    "pixelcnn": ["--image-size", "8", "--width", "8", "--levels", "3"],
    "superres": ["--image-size", "16", "--scale", "4"],
    "cyclegan": ["--image-size", "16", "--xla", "off"],  # --domain-b: a folder of colour noise
    "diffusion": ["--image-size", "16", "--width", "8", "--conditional", "--schedule", "linear"]
    + ["--prediction", "noise"],
    "flow": ["--image-size", "16"],
    "latent-diffusion": ["--image-size", "16", "--width", "8", "--conditional"]
    + ["--autoencoder-steps", "5"],
    "style": ["--image-size", "16", "--style", "coffee"],
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``trained(name)`` -> (its output folder, what the command printed); trains on first use."""
    import contextlib
    import io

    from PIL import Image

    runs = {}
    base = tmp_path_factory.mktemp("every_model")
    colour = base / "colour"
    colour.mkdir()
    rng = np.random.default_rng(1)
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (24, 20, 3), dtype=np.uint8)).save(colour / f"{i}.png")

    def train(name):
        if name not in runs:
            spec = registry.get(name)
            args = ["train", name, "--quick", "--steps", "1", "--epochs", "1", "--width", "4"]
            args += ["--image-size", str(min(spec.sizes)), *SETTINGS.get(name, [])]
            if name == "cyclegan":
                args += ["--domain-b", str(colour)]
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                assert cli.main([*args, "--out", str(base / name)]) == 0
            runs[name] = base / name, printed.getvalue(), args
        return runs[name]

    return train


@pytest.mark.parametrize("name", registry.names())
def test_every_model_trains_with_progress_and_says_what_it_wrote(name, trained):
    out, printed, _ = trained(name)
    lines = printed.splitlines()
    assert any(line.startswith("1/1 - ") for line in lines)  # Keras' progress line (per epoch)
    assert lines[-2].startswith("done in ") and lines[-2].endswith(f"written in {out}:")
    written = lines[-1].strip().split(", ")
    for entry in written:
        path = out / entry.split("/ (")[0]
        assert path.exists(), f"{entry} listed but missing"
    assert any(entry.endswith(".keras") for entry in written)  # the exported network(s)
    assert any(entry.startswith(f"{name}/checkpoints/") for entry in written)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == (
        sorted(written)
    )  # every file the run made, nothing else (no folder here holds more than three)


def test_train_cnn_writes_the_classifier_and_its_accuracy(trained):
    out, printed, _ = trained("cnn")
    assert (out / "cnn.keras").is_file() and (out / "cnn_predictions.png").is_file()
    assert "held-out accuracy" in printed and str(out / "cnn.keras") in printed


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "bogus"], "invalid choice: 'bogus'"),
        (["train", "cnn", "--epochs", "0"], "expected a positive integer, got 0"),
        (["train", "cnn", "--batch-size", "x"], "expected a positive integer, got 'x'"),
        (["train", "cnn", "--seed", "-2"], "non-negative integer"),
        (["sample"], "the following arguments are required: --model"),
        ([], "required: {info,train,sample,eval,translate,inpaint,enhance,texture,stylize,dream}"),
        (["train", "superres", "--scale", "3"], "invalid choice: 3 (choose from 2, 4)"),
        (["train", "denoiser", "--noise-std", "1.5"], "expected a number in (0, 1), got 1.5"),
        (["inpaint", "--model", "m.keras"], "required: --image, --mask"),
        (["translate", "--model", "g.keras"], "required: --input, --out"),
        (
            ["eval", "--model", "g.keras", "--metrics", "fid,sharp"],
            "comma-separated subset of fid,kid,is,pr",
        ),
    ],
)
def test_bad_arguments_exit_with_usage(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and message in err


def test_unknown_dataset_is_a_message_not_a_traceback(tmp_path):
    result = _run("train", "cnn", "--quick", "--dataset", "nonsense", "--out", str(tmp_path))
    assert result.returncode == 2
    assert "unknown dataset 'nonsense'" in result.stderr and "Traceback" not in result.stderr


def test_a_run_that_would_train_nothing_or_ignore_a_flag_is_refused(tmp_path, capsys):
    """Each ran before: a batch larger than the data trained 0 steps and said "done", cyclegan
    trained its default domains whatever --dataset said, and --out a file ended in a traceback."""
    a_file = tmp_path / "a_file"
    a_file.write_text("notes")
    out = ["--out", str(tmp_path / "out")]
    cases = [
        (
            [
                "train",
                "dcgan",
                "--dataset",
                "digits",
                "--batch-size",
                "4096",
                "--epochs",
                "1",
                *out,
            ],
            "batch_size 4096 is larger than the 1437 images of 'digits' (train)",
        ),
        (
            ["train", "cyclegan", "--dataset", "mnist", "--quick", *out],
            "--dataset does not apply to cyclegan: it reads two domains, --domain-a and",
        ),
        (["train", "dcgan", "--quick", "--out", str(a_file)], "is a file; give a folder"),
    ]
    for arguments, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            cli.main(arguments)
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and message in err, (arguments, err)
    assert not list((tmp_path / "out").glob("**/*.keras"))  # nothing exported as trained


def test_help_for_each_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    top = capsys.readouterr().out
    assert exit_info.value.code == 0 and "{" + ",".join(cli.COMMANDS) + "}" in top
    for command in cli.COMMANDS:
        with pytest.raises(SystemExit) as exit_info:
            cli.main([command, "--help"])
        out = capsys.readouterr().out
        # its own usage line, and a described option for every command that takes options
        assert exit_info.value.code == 0 and out.startswith(f"usage: aigc-keras {command}"), command
        assert command == "info" or "  --" in out.split("options:")[1], command


def test_info_prints_environment(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert "TensorFlow" in out and "mode" in out and "digits" in out


def test_sample_from_saved_generator(tmp_path, capsys):
    generator = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(16, activation="tanh"),
            keras.layers.Reshape((4, 4, 1)),
        ]
    )
    generator.save(tmp_path / "g.keras")
    assert (
        cli.main(
            [
                "sample",
                "--model",
                str(tmp_path / "g.keras"),
                "--n",
                "9",
                "--out",
                str(tmp_path / "grid.png"),
            ]
        )
        == 0
    )
    import matplotlib.pyplot as plt

    grid = plt.imread(tmp_path / "grid.png")
    assert grid.shape[:2] == (3 * 5 + 1, 3 * 5 + 1)


def test_sample_refuses_a_classifier(tmp_path):
    from aigc_keras.models import cnn

    cnn.save_atomically(cnn.CNNClassifier(image_size=8), tmp_path / "c.keras")
    with pytest.raises(SystemExit, match="is not a generator"):
        cli.main(["sample", "--model", str(tmp_path / "c.keras")])
    with pytest.raises(SystemExit, match="no model file"):
        cli.main(["sample", "--model", str(tmp_path / "missing.keras")])


@pytest.mark.slow
def test_eval_prints_a_report_naming_extractor_and_counts(tmp_path, capsys, classifier):
    generator = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(784, activation="tanh"),
            keras.layers.Reshape((28, 28, 1)),
        ]
    )
    generator.save(tmp_path / "g.keras")
    assert (
        cli.main(["eval", "--model", str(tmp_path / "g.keras"), "--n", "50", "--metrics", "fid,is"])
        == 0
    )
    out = capsys.readouterr().out
    assert (
        "extractor: chapter-1 classifier (28px" in out and "samples: 50 generated, 50 real" in out
    )
    assert "Fréchet distance" in out and "Inception-style score" in out and "kernel" not in out
    # too few samples for precision and recall's neighbours: one line saying how many are needed
    with pytest.raises(SystemExit, match="need at least 4 images on each side.*got 3 real"):
        cli.main(["eval", "--model", str(tmp_path / "g.keras"), "--n", "3", "--metrics", "fid,pr"])
    # colour real images for a grey model: converted, and said so
    assert (
        cli.main(
            [
                "eval",
                "--model",
                str(tmp_path / "g.keras"),
                "--n",
                "20",
                "--dataset",
                "photos",
                "--metrics",
                "fid",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "the model makes 1-channel images and the photos test images have 3" in captured.err
    assert "samples: 20 generated, 20 real" in captured.out


def test_train_gan_resume_and_overwrite(tmp_path, capsys):
    args = ["train", "cgan", "--quick", "--width", "8", "--out", str(tmp_path)]
    assert cli.main(args) == 0
    folder = tmp_path / "cgan"
    assert (folder / "generator.keras").is_file() and (folder / "samples.png").is_file()
    assert (folder / "checkpoints" / "ckpt-00002.npz").is_file()
    with pytest.raises(SystemExit) as exit_info:
        cli.main(args)
    assert exit_info.value.code == 2 and "pass --resume" in capsys.readouterr().err
    assert cli.main(args + ["--resume", "--epochs", "3"]) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and "epochs 3..3" in out
    assert (folder / "checkpoints" / "ckpt-00003.npz").is_file()
    assert cli.main(args + ["--overwrite", "--epochs", "1"]) == 0
    assert [p.name for p in sorted((folder / "checkpoints").glob("*.npz"))] == ["ckpt-00001.npz"]
    assert (
        cli.main(
            [
                "sample",
                "--model",
                str(folder / "generator.keras"),
                "--classes",
                "3,4",
                "--n",
                "6",
                "--out",
                str(tmp_path / "s.png"),
            ]
        )
        == 0
    )
    with pytest.raises(SystemExit, match="classes must be a non-empty list of integers in 0..9"):
        cli.main(["sample", "--model", str(folder / "generator.keras"), "--classes", "12"])


def test_train_vae_saves_a_generator_that_sample_reads(tmp_path, trained):
    folder = trained("cvae")[0] / "cvae"
    generator = keras.saving.load_model(folder / "generator.keras", safe_mode=True)
    import tensorflow as tf

    images = generator([tf.zeros((2, 16)), tf.constant([1, 2], tf.int32)]).numpy()
    assert images.shape == (2, 28, 28, 1) and -1.0 <= images.min() and images.max() <= 1.0
    assert (
        cli.main(
            [
                "sample",
                "--model",
                str(folder / "generator.keras"),
                "--classes",
                "7",
                "--n",
                "4",
                "--out",
                str(tmp_path / "s.png"),
            ]
        )
        == 0
    )


def test_train_cyclegan_grey_mnist_to_a_colour_folder_then_translate_a_folder(
    tmp_path, trained, capsys
):
    from PIL import Image

    out, printed, arguments = trained("cyclegan")
    colour = pathlib.Path(arguments[-1])
    assert f"mnist has 1 channel(s) and {colour} 3: both domains are read in 3 channels" in printed
    assert f"training CycleGAN mnist <-> {colour} at 16px" in printed
    folder = out / "cyclegan"
    for name in ("generator_ab.keras", "generator_ba.keras"):
        assert (folder / name).is_file()
    generator, _ = registry.load_exported(folder / "generator_ab.keras", "generator")
    assert tuple(generator.input_shape) == (None, 16, 16, 3)
    assert "16x16 patches" in printed and list((folder / "samples").glob("translations_epoch*.png"))
    with pytest.raises(SystemExit) as again:
        cli.main([*arguments, "--out", str(out)])
    assert again.value.code == 2 and "--resume" in capsys.readouterr().err

    pictures = tmp_path / "pictures"
    (pictures / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 30), dtype=np.uint8)).save(pictures / "one.png")
    Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(
        pictures / "sub" / "two.jpg"
    )
    translate = ["translate", "--model", str(folder / "generator_ab.keras"), "--input"]
    assert cli.main([*translate, str(pictures), "--out", str(tmp_path / "translated")]) == 0
    written = sorted(
        p.relative_to(tmp_path / "translated").as_posix()
        for p in (tmp_path / "translated").rglob("*.png")
    )
    assert written == ["one.png", "sub/two.png"]
    assert np.asarray(Image.open(tmp_path / "translated" / "one.png")).shape == (16, 16, 3)


@pytest.mark.parametrize(
    "which, message",
    [
        ("missing", "no saved generator"),
        ("not_translator", "not an image-to-image"),
        ("no_input", "neither an image file nor a folder"),
    ],
)
def test_translate_refusals(which, message, tmp_path, capsys):
    model = tmp_path / "m.keras"
    if which == "not_translator":  # a vector-to-vector model
        inputs = keras.Input((8,))
        keras.Model(inputs, keras.layers.Dense(4)(inputs)).save(model)
    elif which == "no_input":  # a valid image-to-image model, but the input does not exist
        images = keras.Input((16, 16, 1))
        keras.Model(images, keras.layers.Conv2D(1, 3, padding="same")(images)).save(model)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(
            [
                "translate",
                "--model",
                str(model),
                "--input",
                str(tmp_path / "nothing"),
                "--out",
                str(tmp_path),
            ]
        )
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_train_stylegan_quick_then_sample_with_truncation(tmp_path, capsys, trained):
    generator = trained("stylegan")[0] / "stylegan" / "generator.keras"
    assert generator.is_file() and (generator.parent / "checkpoints" / "ckpt-00001.npz").is_file()
    for psi in ("0.7", "0"):
        assert (
            cli.main(
                [
                    "sample",
                    "--model",
                    str(generator),
                    "--truncation",
                    psi,
                    "--n",
                    "4",
                    "--out",
                    str(tmp_path / f"s{psi}.png"),
                ]
            )
            == 0
        )
    import matplotlib.pyplot as plt

    assert plt.imread(tmp_path / "s0.png").shape[:2] == (
        2 * 17 + 1,
        2 * 17 + 1,
    )  # 2x2 tiles of 16 px, 1 px gaps
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["sample", "--model", str(generator), "--truncation", "1.5"])
    assert (
        exit_info.value.code == 2
        and "expected a number in [0, 1], got 1.5" in capsys.readouterr().err
    )
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "stylegan", "--augment", "flip"])
    assert (
        exit_info.value.code == 2
        and "subset of translation,cutout,color" in capsys.readouterr().err
    )
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "dcgan", "--quick", "--augment", "cutout", "--out", str(tmp_path)])
    assert exit_info.value.code == 2 and "--augment is a stylegan option" in capsys.readouterr().err
    plain = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(16, activation="tanh"),
            keras.layers.Reshape((4, 4, 1)),
        ]
    )
    plain.save(tmp_path / "plain.keras")
    with pytest.raises(SystemExit, match="--truncation needs a StyleGAN generator"):
        cli.main(["sample", "--model", str(tmp_path / "plain.keras"), "--truncation", "0.5"])


def test_train_pixelcnn_quick_then_sample(tmp_path, trained):
    generator = trained("pixelcnn")[0] / "pixelcnn" / "generator.keras"
    assert (
        cli.main(
            [
                "sample",
                "--model",
                str(generator),
                "--n",
                "4",
                "--out",
                str(tmp_path / "s.png"),
            ]
        )
        == 0
    )
    import matplotlib.pyplot as plt

    grid = plt.imread(tmp_path / "s.png")
    assert grid.shape[:2] == (2 * 9 + 1, 2 * 9 + 1)
    tiles = grid[1:9, 1:9] if grid.ndim == 2 else grid[1:9, 1:9, 0]
    assert len(set(np.round(tiles.ravel() * 255).astype(int))) <= 3  # three grey levels


def _png(path, array):
    from PIL import Image

    Image.fromarray(np.asarray(array, np.uint8)).save(path)
    return str(path)


def test_train_inpainter_quick_then_inpaint_with_a_user_mask(tmp_path, capsys, trained):
    folder = trained("inpainter")[0] / "inpainter"
    model = str(folder / "inpainter.keras")
    assert (folder / "examples.png").is_file()
    rng = np.random.default_rng(0)
    image = _png(tmp_path / "digit.png", rng.integers(0, 256, (16, 16)))
    hole = np.zeros((16, 16), np.uint8)
    hole[4:9, 6:12] = 255
    mask = _png(tmp_path / "mask.png", hole)
    out = tmp_path / "filled.png"
    assert (
        cli.main(["inpaint", "--model", model, "--image", image, "--mask", mask, "--out", str(out)])
        == 0
    )
    from PIL import Image

    before, after = np.asarray(Image.open(image)), np.asarray(Image.open(out).convert("L"))
    np.testing.assert_array_equal(after[hole == 0], before[hole == 0])  # known pixels kept exactly
    assert "filled 30 pixels" in capsys.readouterr().out
    refusals = [
        (_png(tmp_path / "small.png", hole[:8, :8]), "must be the same size"),
        (_png(tmp_path / "grey.png", hole // 2 + 60), "black (0: keep) and white (255: hole) only"),
    ]
    for bad_mask, message in refusals:
        with pytest.raises(SystemExit):
            cli.main(["inpaint", "--model", model, "--image", image, "--mask", bad_mask])
        assert message in capsys.readouterr().err
    big = _png(tmp_path / "big.png", rng.integers(0, 256, (20, 20)))
    with pytest.raises(SystemExit):
        cli.main(
            [
                "inpaint",
                "--model",
                model,
                "--image",
                big,
                "--mask",
                _png(tmp_path / "m20.png", np.zeros((20, 20))),
            ]
        )
    assert "trained on 16x16 images" in capsys.readouterr().err


@pytest.mark.parametrize("kind, factor", [("superres", 4), ("denoiser", 1)])
def test_train_enhancer_quick_then_enhance_a_folder(kind, factor, tmp_path, capsys, trained):
    folder = trained(kind)[0] / kind
    name = "superres_x4.keras" if kind == "superres" else "denoiser.keras"
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    _png(pictures / "a.png", np.random.default_rng(0).integers(0, 256, (12, 10, 3)))
    assert (
        cli.main(
            [
                "enhance",
                "--model",
                str(folder / name),
                "--input",
                str(pictures),
                "--out",
                str(tmp_path / "enhanced"),
            ]
        )
        == 0
    )
    from PIL import Image

    assert np.asarray(Image.open(tmp_path / "enhanced" / "a.png")).shape == (
        12 * factor,
        10 * factor,
        3,
    )
    # an existing file as --out ended in a FileExistsError traceback
    command = ["enhance", "--model", str(folder / name), "--input", str(pictures)]
    with pytest.raises(SystemExit):
        cli.main([*command, "--out", str(pictures / "a.png")])
    assert "--out must be a folder (the images keep their names)" in capsys.readouterr().err
    plain = keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.Conv2D(3, 1)], name="something_else"
    )
    plain.save(tmp_path / "plain.keras")
    with pytest.raises(SystemExit):
        cli.main(
            [
                "enhance",
                "--model",
                str(tmp_path / "plain.keras"),
                "--input",
                str(pictures),
                "--out",
                str(tmp_path),
            ]
        )
    assert "neither a super-resolution nor a denoising network" in capsys.readouterr().err


# --- diffusion and flow matching on the command line (chapter 9) -------------------------------


def test_train_conditional_diffusion_then_sample_and_evaluate(trained, capsys, tmp_path):
    from aigc_keras.models import diffusion

    denoiser = trained("diffusion")[0] / "diffusion" / "denoiser.keras"
    network, record = registry.load_exported(denoiser, "generator")
    assert record["task"] == "conditional sampler" and record["classes"] == 10
    assert record["config"]["schedule"] == "linear" and record["class"] == "DiffusionModel"
    assert record["config"]["prediction"] == "noise"
    out = tmp_path / "s.png"
    arguments = ["sample", "--model", str(denoiser), "--n", "4", "--out", str(out)]
    assert cli.main([*arguments, "--steps", "3", "--guidance", "2", "--classes", "3,7"]) == 0
    assert out.is_file()
    drawn = registry.sample(network, record, 4, seed=1, classes=[3, 7], steps=3, guidance=2)
    rebuilt = diffusion.DiffusionModel(**record["config"])
    rebuilt.network_ema.set_weights(network.get_weights())
    np.testing.assert_array_equal(
        drawn, rebuilt.generate(labels=[3, 7, 3, 7], seed=1, steps=3, guidance=2)
    )
    with pytest.raises(SystemExit):
        cli.main([*arguments, "--guidance", "-1"])
    assert "must be a finite number >= 0, got '-1'" in capsys.readouterr().err
    assert cli.main(["eval", "--model", str(denoiser), "--n", "150", "--steps", "2"]) == 0
    assert "Fréchet distance" in capsys.readouterr().out


def test_steps_and_guidance_are_refused_for_other_generators(trained, capsys, tmp_path):
    generator = trained("dcgan")[0] / "dcgan" / "generator.keras"
    out = tmp_path
    with pytest.raises(SystemExit, match="--guidance apply to diffusion and flow-matching models"):
        cli.main(["sample", "--model", str(generator), "--guidance", "3", "--out", str(out)])
    with pytest.raises(SystemExit):
        cli.main(["train", "dcgan", "--conditional", "--quick", "--out", str(out)])
    refused = "--conditional is a diffusion, flow or latent-diffusion option"
    assert refused in capsys.readouterr().err


def test_latent_diffusion_on_the_command_line(trained, tmp_path):
    from aigc_keras.models import diffusion

    denoiser = trained("latent-diffusion")[0] / "latent-diffusion" / "denoiser.keras"
    network, record = registry.load_exported(denoiser, "generator")
    assert record["class"] == "LatentDiffusion" and record["config"]["autoencoder_steps"] == 5
    drawn = registry.sample(network, record, 4, seed=1, classes=[3, 7], steps=3, guidance=2)
    assert drawn.shape == (4, 16, 16, 1) and np.all(np.isfinite(drawn))
    rebuilt = diffusion.LatentDiffusion(**record["config"])
    rebuilt.network_ema.set_weights(network.get_layer("unet_ema").get_weights())
    rebuilt.autoencoder.decoder.set_weights(network.get_layer("decoder").get_weights())
    rebuilt.latent_scale.assign(1.0 / network.get_layer("latent_unscale").scale)
    np.testing.assert_allclose(
        drawn, rebuilt.generate(labels=[3, 7, 3, 7], seed=1, steps=3, guidance=2), atol=1e-6
    )
    out = tmp_path / "s.png"
    assert cli.main(["sample", "--model", str(denoiser), "--n", "4", "--out", str(out)]) == 0
    assert out.is_file()


def test_train_style_then_stylize_a_photograph_with_the_network(trained, tmp_path, capsys):
    from PIL import Image
    from skimage import data as skdata

    from aigc_keras.models import style

    out, printed, _ = trained("style")
    assert "training FastStyleTransfer for the style coffee on photos at 16px" in printed
    assert (out / "style" / "examples.png").is_file()
    model = out / "style" / "stylizer.keras"
    photo = tmp_path / "cat.jpg"
    Image.fromarray(skdata.chelsea()).save(photo)  # 451 x 300
    result = tmp_path / "cat_coffee.png"
    arguments = ["stylize", "--model", str(model), "--input", str(photo), "--size", "45"]
    assert cli.main([*arguments, "--out", str(result)]) == 0
    assert "stylized 45x30 in " in capsys.readouterr().out
    written = np.asarray(Image.open(result), np.float32) / 255.0
    network, _ = registry.load_exported(model, "style-transfer network")
    resized = np.asarray(Image.open(photo).resize((45, 30), Image.BILINEAR), np.float32) / 255.0
    expected = style.stylize_images(network, resized)[0]
    assert written.shape == (30, 45, 3)
    assert np.mean(np.abs(written - expected)) < 0.03  # the same network (resizing differs)
    for extra, message in [
        (["--style", "coffee"], "give --style (optimise the photograph's pixels) or --model"),
        ([], None),
    ]:
        if message is None:
            generator = trained("dcgan")[0] / "dcgan" / "generator.keras"
            command = ["stylize", "--model", str(generator), "--input", str(photo)]
            message = "is not a style-transfer network (it is a sampler"
        else:
            command = [*arguments, *extra]
        with pytest.raises(SystemExit):
            cli.main([*command, "--out", str(result)])
        assert message in capsys.readouterr().err
