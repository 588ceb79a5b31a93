"""Reliability guarantees (issue 10): data order on resume, the NaN guard, loss-scale collapse,
unreadable user images, safe loading, and a training process killed in the middle of writing a
checkpoint.

The per-model exact-resume tests live in each model's test file (``matrix.check_resume_is_exact``);
here the guarantees that do not depend on the model.
"""

import contextlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import warnings
import zipfile

import keras
import numpy as np
import pytest
from PIL import Image
from tiny_model import TinyGAN

from aigc_keras import (
    callbacks,
    chapters,
    cli,
    data,
    distributed,
    hardware,
    judges,
    order,
    registry,
    validation,
    verdicts,
    viz,
)
from aigc_keras.models import base, cnn, gan

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _labels_in_order(dataset, n=64):
    return np.concatenate([labels.numpy() for _, labels in dataset.take(n // 16)])


# --- data order -----------------------------------------------------------------------------------


def test_each_pass_has_its_own_order_and_set_epoch_replays_it():
    pipeline = data.load("digits", image_size=8, batch_size=16, labels=True)
    order.set_epoch(pipeline, 0)
    first, second = (
        _labels_in_order(pipeline),
        _labels_in_order(pipeline),
    )  # two passes in epoch 0 (repeat)
    order.set_epoch(pipeline, 1)
    third = _labels_in_order(pipeline)
    assert (
        not np.array_equal(first, second)
        and not np.array_equal(third, first)
        and not np.array_equal(third, second)
    )  # no order comes back, within an epoch or across epochs
    fresh = data.load(
        "digits", image_size=8, batch_size=16, labels=True
    )  # a resumed run's new pipeline
    order.set_epoch(fresh, 1)
    np.testing.assert_array_equal(_labels_in_order(fresh), third)
    order.set_epoch(fresh, 0)
    np.testing.assert_array_equal(_labels_in_order(fresh), first)
    np.testing.assert_array_equal(_labels_in_order(fresh), second)
    other_seed = data.load("digits", image_size=8, batch_size=16, labels=True, seed=1)
    order.set_epoch(other_seed, 0)
    assert not np.array_equal(_labels_in_order(other_seed), first)
    order.set_epoch(
        pipeline, 0
    )  # each pipeline owns its order: setting one leaves another as it was
    assert order.of(fresh)[0].epoch == 0 and order.of(other_seed)[0].epoch == 0
    order.set_epoch(fresh, 3)
    assert order.of(pipeline)[0].epoch == 0
    with pytest.raises(ValueError, match="carries no data order"):
        order.set_epoch(
            data.load("digits", "test", image_size=8), 1
        )  # the test split is not shuffled


def test_resume_is_exact_with_a_shuffled_pipeline(tmp_path):
    """Interrupted after epoch 1 of 3 and resumed in a new pipeline: the same weights as a run that
    never stopped.

    The models' own ``fit`` keeps the order (``order.DataOrderCallback``); the negative control
    resumes through Keras' plain ``fit``, which does not: the new pipeline replays epoch 0's order
    in epoch 1 and the weights differ.
    """

    def make():
        keras.utils.set_random_seed(0)
        model = TinyGAN()
        model.compile()
        return model

    def pipeline():
        return data.load("digits", image_size=8, batch_size=64, seed=3, drop_remainder=True)

    straight = make()
    straight.fit(
        pipeline(), epochs=3, verbose=0, callbacks=[callbacks.Checkpoint(tmp_path / "straight")]
    )
    first = make()
    first.fit(
        pipeline(), epochs=1, verbose=0, callbacks=[callbacks.Checkpoint(tmp_path / "run", keep=5)]
    )
    resumed = make()
    checkpoint = callbacks.Checkpoint(tmp_path / "run", keep=5)
    start = checkpoint.restore(resumed)
    resumed.fit(pipeline(), epochs=3, initial_epoch=start, verbose=0, callbacks=[checkpoint])
    for a, b in zip(straight.variables, resumed.variables, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6, err_msg=a.path)

    without_checkpoint = make()
    without_checkpoint.load_checkpoint(tmp_path / "run" / "ckpt-00001.npz")
    without_checkpoint.fit(
        pipeline(), epochs=3, initial_epoch=1, verbose=0
    )  # fit keeps the order itself
    for a, b in zip(straight.variables, without_checkpoint.variables, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6, err_msg=a.path)
    careless = make()
    careless.load_checkpoint(tmp_path / "run" / "ckpt-00001.npz")
    keras.Model.fit(
        careless, pipeline(), epochs=3, initial_epoch=1, verbose=0
    )  # the order restarts at pass 0
    assert any(
        not np.allclose(a.numpy(), b.numpy())
        for a, b in zip(straight.variables, careless.variables, strict=True)
    )


def _stream():
    """A repeating, shuffled pipeline: 1,437 digits in batches of 64, so passes end mid-batch."""
    return data.load(
        "digits", image_size=8, batch_size=64, seed=3, repeat=True, drop_remainder=True
    )


@pytest.mark.parametrize("strategy", [None, "mirrored"])
def test_a_run_resumed_mid_epoch_continues_the_pass_it_stopped_in(tmp_path, strategy):
    """Checkpoints every 7 batches of 10-batch epochs: resumed from one written 21 batches in
    (epoch 3, batch 1) and from one 35 batches in (epoch 4, batch 5, in the data's second
    pass), a run ends with the weights of one that never stopped, on one device and on two
    replicas.  Negative control: the same checkpoint, its remaining batches trained on a stream
    that restarts (what a resume did before), gives other weights."""

    def make():
        keras.utils.set_random_seed(0)
        with hardware.strategy(strategy).scope() if strategy else contextlib.nullcontext():
            model = TinyGAN()
            model.compile()
        return model

    straight = make()
    saver = callbacks.Checkpoint(tmp_path / "straight", every_steps=7, keep=20)
    straight.fit(_stream(), epochs=4, steps_per_epoch=10, verbose=0, callbacks=[saver])
    assert [position for position, _ in saver.checkpoints()] == [
        (0, 7), (1, 0), (1, 4), (2, 0), (2, 1), (2, 8), (3, 0), (3, 5), (4, 0)
    ]  # fmt: skip
    for epoch, batch in [(2, 1), (3, 5)]:
        name = f"ckpt-{epoch:05d}-{batch:07d}.npz"
        folder = tmp_path / f"resumed-{epoch}-{batch}"
        folder.mkdir()
        (folder / name).write_bytes((tmp_path / "straight" / name).read_bytes())
        resumed = make()
        checkpoint = callbacks.Checkpoint(folder, every_steps=7, keep=20)
        start = checkpoint.restore(resumed)
        assert start == epoch and checkpoint.resume_point == (epoch, batch)
        history = resumed.fit(
            _stream(),
            epochs=4,
            initial_epoch=start,
            steps_per_epoch=10,
            verbose=0,
            callbacks=[checkpoint],
        )
        assert history.epoch == list(range(epoch, 4)) and history.history
        assert all(len(values) == 4 - epoch for values in history.history.values())
        assert [p for p, _ in checkpoint.checkpoints()][-1] == (4, 0)
        for a, b in zip(straight.variables, resumed.variables, strict=True):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6, err_msg=a.path)

    restarted = make()
    restarted.load_checkpoint(tmp_path / "straight" / "ckpt-00003-0000005.npz")
    keras.Model.fit(restarted, _stream(), epochs=4, initial_epoch=3, steps_per_epoch=5, verbose=0)
    assert restarted._steps_done() == straight._steps_done()  # the same number of steps
    assert any(
        not np.allclose(a.numpy(), b.numpy())
        for a, b in zip(straight.trainable_variables, restarted.trainable_variables, strict=True)
    )


def test_a_mid_epoch_resume_needs_the_stream_and_its_steps(tmp_path):
    model = TinyGAN()
    model.compile()
    checkpoint = callbacks.Checkpoint(tmp_path, every_steps=2)
    for pipeline, steps in [(_stream().take(4), None), (_stream(), None)]:
        with pytest.raises(ValueError, match="need a repeating pipeline .* and steps_per_epoch"):
            model.fit(pipeline, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[checkpoint])
    assert not tmp_path.exists() or not any(tmp_path.iterdir())  # nothing written
    model.fit(_stream(), epochs=1, steps_per_epoch=5, verbose=0, callbacks=[checkpoint])
    assert [p for p, _ in checkpoint.checkpoints()] == [(0, 4), (1, 0)]
    for pipeline, steps, message in [
        (_stream(), 4, "the run's own steps_per_epoch"),
        (data.load("digits", image_size=8, batch_size=64, seed=3), None, "repeating pipeline"),
    ]:
        again = callbacks.Checkpoint(tmp_path / "copy")
        (tmp_path / "copy").mkdir(exist_ok=True)
        (tmp_path / "copy" / "ckpt-00000-0000004.npz").write_bytes(
            (tmp_path / "ckpt-00000-0000004.npz").read_bytes()
        )
        fresh = TinyGAN()
        fresh.compile()
        start = again.restore(fresh)
        with pytest.raises(ValueError, match=message):
            fresh.fit(
                pipeline, epochs=1, initial_epoch=start, steps_per_epoch=steps, verbose=0,
                callbacks=[again],
            )  # fmt: skip
    with pytest.raises(ValueError, match="seek"):
        order.set_epoch(_stream(), 1)
    with pytest.raises(ValueError, match="set_epoch"):
        order.seek(data.load("digits", image_size=8, batch_size=64), 3)


def test_classifier_checkpoint_resume_is_exact(tmp_path):
    """The CNN classifier (Keras' own train_step, dropout) resumes exactly from the package's
    checkpoint."""

    def make():
        keras.utils.set_random_seed(0)
        model = cnn.CNNClassifier(image_size=8, width=4, feature_dim=8)
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        return model

    def pipeline():
        return data.load("digits", image_size=8, batch_size=128, labels=True, limit=512)

    straight = make()
    straight.fit(
        pipeline(), epochs=2, verbose=0, callbacks=[callbacks.Checkpoint(tmp_path / "straight")]
    )
    first = make()
    first.fit(pipeline(), epochs=1, verbose=0, callbacks=[callbacks.Checkpoint(tmp_path / "run")])
    resumed = make()
    checkpoint = callbacks.Checkpoint(tmp_path / "run")
    assert checkpoint.restore(resumed) == 1
    assert int(resumed.optimizer.iterations.numpy()) == 4
    resumed.fit(pipeline(), epochs=2, initial_epoch=1, verbose=0, callbacks=[checkpoint])
    for a, b in zip(straight.trainable_variables, resumed.trainable_variables, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6, err_msg=a.path)
    with pytest.raises(ValueError, match="width: checkpoint 4 vs model 8"):
        other = cnn.CNNClassifier(image_size=8, width=8, feature_dim=8)
        other.compile(optimizer="adam", loss="mse")
        other.load_checkpoint(tmp_path / "run" / "ckpt-00002.npz")


# --- training health ------------------------------------------------------------------------------


class _Poison(keras.callbacks.Callback):
    """Puts a NaN into a layer at the start of epoch ``at`` (what a diverging step does).  The
    default is the discriminator's logits layer, which reaches both losses through no saturating
    activation."""

    def __init__(self, at, model="discriminator", layer="d_out"):
        super().__init__()
        self.at, self.where = at, (model, layer)

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            weights = getattr(self.model, self.where[0]).get_layer(self.where[1]).kernel
            weights.assign(np.full(weights.shape, np.nan, np.float32))


def test_nan_loss_stops_training_naming_loss_and_step_and_keeps_last_good_checkpoint(
    digits8, tmp_path
):
    model = TinyGAN()
    model.compile()
    batches = data.load("digits", image_size=8, batch_size=64, drop_remainder=True)
    steps_per_epoch = sum(1 for _ in batches)
    with pytest.raises(FloatingPointError) as error:
        model.fit(
            batches,
            epochs=4,
            verbose=0,
            callbacks=[_Poison(at=2), callbacks.Checkpoint(tmp_path, keep=5)],
        )
    message = str(error.value)
    assert f"step {2 * steps_per_epoch + 1} " in message and "'g_loss'" in message
    assert "learning rate" in message and "mixed_float16" in message and "checkpoint" in message
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert saved == ["ckpt-00001.npz", "ckpt-00002.npz"]  # nothing written from the broken weights
    good = TinyGAN()
    good.compile()
    good.load_checkpoint(tmp_path / "ckpt-00002.npz")
    assert all(
        np.all(np.isfinite(v.numpy())) for v in good.variables if v.dtype.startswith("float")
    )


def test_nan_weights_behind_finite_losses_stop_training_at_the_epoch_end(tmp_path):
    """A NaN in the generator's output layer: on an AVX-512 CPU here the discriminator's fused
    MatMul+BiasAdd+Relu kernel turned the NaN images into finite logits and the losses stayed finite
    (elsewhere they turn NaN at once); either way training stops in that epoch, naming what is
    wrong, and no checkpoint is written from the broken weights."""
    model = TinyGAN()
    model.compile()
    batches = data.load("digits", image_size=8, batch_size=64, drop_remainder=True)
    with pytest.raises(
        FloatingPointError, match=r"is not finite|end of epoch 3: generator/g_\w+/kernel holds NaN"
    ):
        model.fit(
            batches,
            epochs=4,
            verbose=0,
            callbacks=[
                _Poison(at=2, model="generator", layer="g_out"),
                callbacks.Checkpoint(tmp_path, keep=5),
            ],
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-00001.npz", "ckpt-00002.npz"]
    guard = (
        base.NonFiniteGuard()
    )  # the weight check on its own (no checkpoint callback to catch it)
    guard.set_model(model)
    with pytest.raises(
        FloatingPointError,
        match=r"end of epoch 3: generator/g_\w+/kernel holds NaN.*losses "
        r"stayed finite",
    ):
        guard.on_epoch_end(2)
    healthy = TinyGAN()
    healthy.compile()
    guard.set_model(healthy)
    guard.on_epoch_end(0)  # finite weights: no error


def test_the_guard_stops_on_nan_anywhere_and_on_infinite_losses_only():
    model = TinyGAN()
    model.compile()
    guard = base.NonFiniteGuard()
    guard.set_model(model)
    guard.on_train_batch_end(
        0, {"g_loss": 0.7, "psnr": float("inf"), "steps": 3}
    )  # a perfect batch: fine
    with pytest.raises(FloatingPointError, match="'kl' = nan"):
        guard.on_train_batch_end(1, {"g_loss": 0.7, "kl": float("nan")})
    with pytest.raises(FloatingPointError, match="'d_loss' = inf"):
        guard.on_train_batch_end(2, {"d_loss": np.array([1.0, np.inf])})


def test_a_checkpoint_resumes_across_float32_and_bfloat16_and_float16_is_refused_naming_it(
    tmp_path, policy
):
    """float32 and mixed_bfloat16 hold the same float32 variables (a run that reconnects on a CPU
    with or without bfloat16 instructions resumes); mixed_float16's loss scaler has state of its
    own: refused."""
    policy("float32")
    model = TinyGAN()
    model.compile()
    model.save_checkpoint(tmp_path / "f32.npz", epoch=1)
    policy("mixed_bfloat16")
    bf16 = TinyGAN()
    bf16.compile()
    assert bf16.dtype_policy.name == "mixed_bfloat16"
    assert bf16.load_checkpoint(tmp_path / "f32.npz")["epoch"] == 1
    for mine, theirs in zip(model.weights, bf16.weights, strict=True):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(mine), keras.ops.convert_to_numpy(theirs)
        )
    bf16.save_checkpoint(tmp_path / "bf16.npz", epoch=2)
    policy("float32")
    back = TinyGAN()
    back.compile()
    assert back.load_checkpoint(tmp_path / "bf16.npz")["epoch"] == 2
    policy("mixed_float16")
    other = TinyGAN()
    other.compile()
    with pytest.raises(
        ValueError,
        match=r"written under the float32 precision policy and this model is "
        r"mixed_float16.*--precision float32",
    ):
        other.load_checkpoint(tmp_path / "f32.npz")
    with pytest.raises(ValueError, match=r"written under the mixed_bfloat16 precision policy"):
        other.load_checkpoint(tmp_path / "bf16.npz")
    other.save_checkpoint(tmp_path / "f16.npz", epoch=3)
    with pytest.raises(
        ValueError,
        match=r"written under the mixed_float16 precision policy and this model is "
        r"float32",
    ):
        back.load_checkpoint(tmp_path / "f16.npz")


def test_a_checkpoint_is_never_written_from_non_finite_weights(tmp_path):
    model = TinyGAN()
    model.compile()
    model.save_checkpoint(tmp_path / "good.npz", epoch=1)
    kernel = model.discriminator.get_layer("d_out").kernel
    kernel.assign(np.full(kernel.shape, np.inf, np.float32))
    with pytest.raises(FloatingPointError, match="d_out/kernel holds NaN or infinite values"):
        model.save_checkpoint(tmp_path / "good.npz", epoch=2)
    restored = TinyGAN()
    restored.compile()
    assert restored.load_checkpoint(tmp_path / "good.npz")["epoch"] == 1  # the good one, untouched


def test_collapsed_float16_loss_scale_is_reported(policy):
    policy("mixed_float16")
    model = TinyGAN()
    model.compile()
    guard = base.NonFiniteGuard()
    guard.set_model(model)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        guard.on_epoch_end(0)
    assert not [
        w for w in record if "loss scale" in str(w.message)
    ]  # the healthy scale of 32768: no report
    model.optimizers["generator"].dynamic_scale.assign(2.0**-3)
    with pytest.warns(
        RuntimeWarning, match="loss scale of optimizer 'generator' has collapsed to 0.125"
    ):
        guard.on_epoch_end(1)


# --- user images ----------------------------------------------------------------------------------


def _write_folder(folder, good=5):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(good):
        size = (12 + 4 * i, 10 + 3 * i)  # mixed sizes
        mode = ("L", "RGB", "RGBA", "P", "L")[i % 5]  # mixed channel counts
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).convert(
            mode
        ).save(folder / f"good{i}.png")
    whole = (folder / "good1.png").read_bytes()
    (folder / "truncated.png").write_bytes(whole[: len(whole) // 2])
    (folder / "text.jpg").write_text("not a picture")
    (folder / "notes.txt").write_text("a note")
    (folder / ".hidden.png").write_text("ignored")
    return folder


def test_unreadable_files_are_skipped_with_a_count_and_names(tmp_path, capsys):
    folder = _write_folder(tmp_path / "mine")
    arrays = data.load_arrays(str(folder), image_size=16, channels=3)
    assert arrays.images.shape == (5, 16, 16, 3)  # every size and mode converted as documented
    out = capsys.readouterr().out
    assert "skipped 3 of 8 files" in out
    for name in ("notes.txt", "text.jpg", "truncated.png"):
        assert name in out
    grey = data.load_arrays(str(folder), image_size=8, channels=1)
    assert grey.images.shape == (5, 8, 8, 1)
    batches = list(data.load(str(folder), image_size=16, batch_size=2))
    assert sum(len(b) for b in batches) == 5


def test_strict_refuses_a_folder_with_unreadable_files(tmp_path):
    folder = _write_folder(tmp_path / "mine")
    with pytest.raises(
        ValueError, match=r"3 of 8 files .* are not readable images .*leave strict off"
    ):
        data.load_arrays(str(folder), image_size=16, strict=True)


def test_a_folder_with_no_readable_image_is_an_error(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ValueError, match="none of the 1 files .* is a readable image"):
        data.load_arrays(str(folder), image_size=8)


def test_cli_strict_refuses_and_default_skips_on_a_user_folder(tmp_path):
    folder = _write_folder(tmp_path / "mine")
    strict = subprocess.run(
        [
            sys.executable,
            "-m",
            "aigc_keras",
            "train",
            "dcgan",
            "--dataset",
            str(folder),
            "--image-size",
            "8",
            "--strict",
            "--out",
            str(tmp_path / "a"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (
        strict.returncode == 2
        and "3 of 8 files" in strict.stderr
        and "Traceback" not in strict.stderr
    )
    skipping = subprocess.run(
        [
            sys.executable,
            "-m",
            "aigc_keras",
            "train",
            "dcgan",
            "--dataset",
            str(folder),
            "--image-size",
            "28",
            "--width",
            "4",
            "--batch-size",
            "2",
            "--epochs",
            "1",
            "--out",
            str(tmp_path / "b"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert skipping.returncode == 0, skipping.stderr
    assert (
        "skipped 3 of 8 files" in skipping.stdout and "on 5 " in skipping.stdout
    )  # trained on the 5 good ones


# --- bad input: one table, each message checked ---------------------------------------------------

BAD_CLI = [
    (["train", "dcgan", "--epochs", "-1"], "expected a positive integer, got -1"),
    (["train", "dcgan", "--steps", "0"], "expected a positive integer, got 0"),
    (["train", "dcgan", "--checkpoint-every", "0"], "expected a positive integer, got 0"),
    (["train", "dcgan", "--image-size", "2.5"], "expected a positive integer, got '2.5'"),
    (["train", "dcgan", "--width", "nan"], "expected a positive integer, got 'nan'"),
    (["train", "denoiser", "--noise-std", "nan"], "expected a number in (0, 1), got nan"),
    (["train", "denoiser", "--noise-std", "0"], "expected a number in (0, 1), got 0"),
    (["sample", "--model", "g.keras", "--n", "0"], "expected a positive integer, got 0"),
    (["sample", "--model", "g.keras", "--truncation", "1.5"], "[0, 1]"),
    (["sample", "--model", "g.keras", "--truncation", "nan"], "[0, 1]"),
    (["sample", "--model", "g.keras", "--classes", "a,b"], "comma-separated"),
    (["sample", "--model", "g.keras", "--classes", "3,,4"], "comma-separated"),
    (["sample", "--model", "g.keras", "--classes", "3,4,"], "comma-separated"),
    (["eval", "--model", "g.keras", "--n", "-5"], "expected a positive integer, got -5"),
    (["eval", "--model", "g.keras", "--extractor", "vgg"], "invalid choice: 'vgg'"),
    (["train", "pixelcnn", "--levels", "0"], "expected a positive integer, got 0"),
    (["train", "stylegan", "--augment", "rotate"], "translation,cutout,color"),
]


@pytest.mark.parametrize(
    "args, message", BAD_CLI, ids=[" ".join(a[:3]) + f" #{i}" for i, (a, _) in enumerate(BAD_CLI)]
)
def test_each_bad_cli_option_is_refused_with_what_is_accepted(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(args)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize(
    "command, message",
    [
        (["sample", "--model", "missing.keras"], "missing.keras"),
        (["enhance", "--model", "missing.keras", "--input", ".", "--out", "o"], "missing.keras"),
        (
            ["inpaint", "--model", "missing.keras", "--image", "x.png", "--mask", "m.png"],
            "missing.keras",
        ),
        (["train", "pixelcnn", "--levels", "1", "--quick"], "--levels must be at least 2"),
        (["train", "dcgan", "--dataset", "/no/such/folder", "--quick"], "does not exist"),
        (
            ["train", "dcgan", "--checkpoint-every", "5", "--quick"],
            "--checkpoint-every needs --steps",
        ),
    ],
)
def test_missing_files_and_bad_values_inside_commands_are_one_line_messages(
    command, message, tmp_path, capsys
):
    if command[0] == "train":
        command += ["--out", str(tmp_path / "out")]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(command)
    code = exit_info.value.code
    err = capsys.readouterr().err + (code if isinstance(code, str) else "")
    assert code != 0 and message in err and "Traceback" not in err


def _generative():
    model = TinyGAN()
    model.compile()
    return model


_IMAGES = np.zeros((4, 8, 8, 1), np.float32)

BAD_CALLS = [
    (
        lambda: data.load("digits", image_size=0),
        ValueError,
        "image_size must be a positive integer",
    ),
    (
        lambda: data.load("digits", batch_size=-4),
        ValueError,
        "batch_size must be a positive integer",
    ),
    (
        lambda: data.load("digits", image_size=8.5),
        ValueError,
        "image_size must be a positive integer, got 8.5",
    ),
    (lambda: data.load("digits", value_range=(0, 2)), ValueError, "value_range"),
    (lambda: data.load("digits", channels=2), ValueError, "channels must be 1, 3 or None"),
    (lambda: data.load("digits", source="web"), ValueError, "use one of auto, tfds, offline"),
    (lambda: data.load(42), TypeError, "dataset name must be a non-empty string"),
    (lambda: order.DataOrder(0).set_epoch(-1), ValueError, "epoch must be a non-negative integer"),
    (lambda: data.read_image("/no/such.png"), ValueError, "could not read '/no/such.png'"),
    (
        lambda: data.image_files("/no/such/folder"),
        FileNotFoundError,
        "neither an image file nor a folder",
    ),
    (lambda: _generative().generate(0), ValueError, "n must be a positive integer"),
    (lambda: _generative().generate(2.5), ValueError, "n must be a positive integer, got 2.5"),
    (lambda: _generative().generate(4, seed=-1), ValueError, "seed"),
    (  # it failed converting the seed into an int64 tensor
        lambda: _generative().generate(1, seed=2**63),
        ValueError,
        "seed must be a non-negative integer below 2**63, got 9223372036854775808",
    ),
    (
        lambda: gan.ConditionalGAN(image_size=28, width=4, latent_dim=4, num_classes=3).generate(
            labels=[]
        ),
        ValueError,
        "labels is empty; pass at least one class id",  # it said "n must be a positive integer"
    ),
    (
        lambda: _generative().generate(2, temperature=0.5),  # it named a private method
        ValueError,
        "TinyGAN.generate has no option 'temperature'; it takes n, labels, seed, batch_size.",
    ),
    (lambda: _generative().generate(labels=[1, 2]), ValueError, "not class-conditional"),
    (
        lambda: _generative().load_checkpoint("/no/such.npz"),
        FileNotFoundError,
        "no checkpoint at '/no/such.npz'",
    ),
    (lambda: callbacks.Checkpoint("x", every=0), ValueError, "every must be a positive integer"),
    (lambda: callbacks.SampleGrid("x", n=-1), ValueError, "n must be a positive integer"),
    # the third probe of the public API (each entry silently wrong or a raw error before)
    (
        lambda: data.load("digits", batch_size=5000, drop_remainder=True),
        ValueError,
        "batch_size 5000 is larger than the 1437 images of 'digits' (train): with "
        "drop_remainder=True every batch would be dropped",
    ),
    (
        lambda: data.load_arrays("digits", shard=(1500, 2000)),
        ValueError,
        "shard (1500, 2000) holds no images: the split has 1437",
    ),
    (
        lambda: data.load("digits", shard=(1500, 2000)),
        ValueError,
        "'digits' (train, shard (1500, 2000)) holds no images",
    ),
    (lambda: data.scale(np.array([0.0, 128.0, 255.0]), (-1, 1)), ValueError, "divide 0..255"),
    (lambda: data.scale(["a"], (-1, 1)), ValueError, "numbers in [0, 1], got an array of <U1"),
    (lambda: data.load("digits", channels=True), ValueError, "channels must be 1, 3 or None"),
    (
        lambda: data.load("digits", value_range=4, augment=data.augmentation("digits")),
        ValueError,
        "augment works on images in (-1, 1) or (0, 1), not on value_range=4",
    ),
    (
        lambda: data.apply_augmentation([1, 2], data.augmentation("digits")),
        ValueError,
        "maps over a batched tf.data.Dataset, got list",
    ),
    (
        lambda: registry.build(registry.get("dcgan"), image_sise=16),
        ValueError,
        "dcgan has no setting ['image_sise']",
    ),
    (
        lambda: registry.build(registry.get("pixelcnn"), channels=3),
        ValueError,
        "pixelcnn works on 1-channel images, got channels=3",
    ),
    (
        lambda: registry.settings(registry.get("dcgan"), num_classes=10),
        ValueError,
        "dcgan is not class-conditional; leave num_classes out",
    ),
    (
        lambda: registry.settings(registry.get("diffusion"), num_classes=10),
        ValueError,
        "diffusion is not class-conditional unless conditional=True makes it so",
    ),
    (
        lambda: validation.cycled_labels([], 10, 4),
        ValueError,
        "classes must be a non-empty list of integers in 0..9",
    ),
    (lambda: validation.cycled_labels([1.7], 10, 4), ValueError, "got [1.7]"),
    (lambda: validation.cycled_labels(3, 10, 4), ValueError, "a list of class ids, got 3"),
    (lambda: hardware.xla_report("DCGAN"), ValueError, "a model class (e.g. gan.DCGAN)"),
    (lambda: hardware.environment_report(5), ValueError, "got 5"),
    (lambda: verdicts.recorded(mode="quik"), ValueError, "mode must be one of quick, standard"),
    (lambda: verdicts.table([{"chapter": 1}]), ValueError, "a row lacks ['comparison'"),
    (
        lambda: distributed.cluster(["bad", "x"], 0),
        ValueError,
        "worker address 'bad' is not host:port",
    ),
    (
        lambda: judges.train_domain_extractor(_IMAGES, _IMAGES, epochs=0),
        ValueError,
        "epochs must be a positive integer, got 0",
    ),
    (
        lambda: judges.train_domain_extractor(_IMAGES, _IMAGES, test_a=_IMAGES),
        ValueError,
        "give both test_a and test_b to measure the accuracy, or neither",
    ),
    (
        lambda: judges.train_domain_extractor(_IMAGES, _IMAGES[:, :4]),
        ValueError,
        "train_a and train_b must share height, width and channels",
    ),
    (lambda: judges.load_classifier(8, epochs=-3, quick=True), ValueError, "epochs must be"),
    (lambda: judges.contrast_normalise(_IMAGES, clip=-1), ValueError, "clip must be a finite"),
    (
        lambda: judges.ClassifierExtractor(keras.Sequential()),
        ValueError,
        "classifier must be a chapter-1 CNNClassifier",
    ),
    (
        lambda: cnn.CNNClassifier(image_size=8).features(_IMAGES, batch_size=0),
        ValueError,
        "batch_size must be a positive integer, got 0",
    ),
    (
        lambda: judges.domain_verdict(None, _IMAGES, _IMAGES, [_IMAGES]),
        ValueError,
        "controls must be a dict naming at least one set of fake images",
    ),
    (
        lambda: chapters.execute("x.ipynb", "quick", timeout=0),
        ValueError,
        "timeout (seconds a cell may run) must be a positive integer, got 0",
    ),
    (lambda: chapters.release("no/pyproject.toml"), ValueError, "no pyproject.toml at"),
    (lambda: viz.show_array(np.random.rand(8, 8)), ValueError, "show_array needs a uint8"),
    (lambda: viz.image_grid(np.zeros((2, 4, 4, 2))), ValueError, "1 (grey) or 3 (colour)"),
    (
        lambda: viz.confusion_matrix_plot(np.eye(3, dtype=int), ["a", "b"]),
        ValueError,
        "class_names must be 3 labels, one per class",
    ),
    (
        lambda: viz.plot_history({"loss": [1, 2, 3], "val_loss": [1, 2]}),
        ValueError,
        "val_loss has 2 values for 3 epochs of loss",
    ),
    # each of the next three failed only after the first epoch, or never
    (
        lambda: callbacks.SampleGrid("x", seed=-1),
        ValueError,
        "seed must be a non-negative integer below 2**63, got -1",
    ),
    (lambda: callbacks.SampleGrid("x", show="no"), ValueError, "show must be True or False"),
    (lambda: callbacks.SampleGrid("x", prefix="a/b"), ValueError, "without slashes, got 'a/b'"),
    (lambda: gan.DCGAN(image_size=0), ValueError, "image_size"),
    (
        lambda: cnn.CNNClassifier(image_size=28, dropout=float("nan")),
        ValueError,
        "dropout must be in [0, 1)",
    ),
]


@pytest.mark.parametrize(
    "call, error, message", BAD_CALLS, ids=[f"call{i}" for i in range(len(BAD_CALLS))]
)
def test_each_bad_argument_to_a_public_function_is_refused_with_what_is_accepted(
    call, error, message
):
    with pytest.raises(error) as raised:
        call()
    assert message in str(raised.value)


def test_a_notebook_without_a_code_cell_gets_no_set_up_cell(tmp_path):
    import nbformat

    path = tmp_path / "notes.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# x")]), path)
    with pytest.raises(ValueError, match="has no code cell to make the set-up cell"):
        chapters.write_setup_cell(path, "https://github.com/a/b", "v0.1.0")  # was StopIteration


def test_bad_arrays_are_refused():
    from aigc_keras import metrics

    classifier = cnn.CNNClassifier(image_size=8, width=4, feature_dim=8)
    with pytest.raises(ValueError, match=r"shape \(N, 8, 8, 1\)"):
        classifier.predict_proba(np.zeros((2, 9, 9, 1), np.float32))  # wrong shape
    with pytest.raises(ValueError, match=r"must be in \[-1, 1\]"):
        classifier.predict_proba(np.full((2, 8, 8, 1), 3.0, np.float32))
    with pytest.raises(ValueError, match="NaN or infinite"):
        metrics.frechet_distance(np.full((4, 3), np.nan), np.zeros((4, 3)))


# --- safe loading ---------------------------------------------------------------------------------


def test_a_keras_file_with_code_in_it_is_refused(tmp_path, capsys):
    inputs = keras.Input((8, 8, 1))
    outputs = keras.layers.Lambda(lambda x: x * 2.0)(
        inputs
    )  # arbitrary Python, serialised as bytecode
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(
            ["enhance", "--model", str(path), "--input", str(path), "--out", str(tmp_path / "o")]
        )
    assert exit_info.value.code == 2 and "safe" in capsys.readouterr().err.lower()


def test_the_package_never_unpickles_or_loads_unsafely():
    source = "\n".join(p.read_text() for p in (ROOT / "aigc_keras").rglob("*.py"))
    assert (
        "allow_pickle=True" not in source
        and "safe_mode=False" not in source
        and "import pickle" not in source
    )
    assert source.count("np.load(") == source.count("allow_pickle=False")


def test_files_the_package_writes_hold_no_code(tmp_path):
    model = gan.ConditionalGAN(image_size=28, width=4, latent_dim=4, num_classes=3)
    model.compile()
    model.generator.save(tmp_path / "generator.keras")
    model.save_checkpoint(tmp_path / "ckpt.npz", epoch=0)
    with zipfile.ZipFile(tmp_path / "generator.keras") as archive:
        config = archive.read("config.json").decode()
    assert (
        "Lambda" not in config and "__lambda__" not in config and "bytecode" not in config.lower()
    )
    with np.load(
        tmp_path / "ckpt.npz", allow_pickle=False
    ) as stored:  # would fail on any object array
        assert all(stored[k].dtype != object for k in stored.files)
        assert json.loads(str(stored["__meta__"]))["class"] == "ConditionalGAN"


# --- a process killed at random moments, resumed each time ----------------------------------------

# Runs the command line and SIGKILLs itself at global step AIGC_KILL_AT: after that step's batch
# ("batch"), or while that step's checkpoint is being written: the file written under its
# temporary name, the rename into place not yet done ("write").
KILLABLE = textwrap.dedent("""
    import os, signal, sys
    from aigc_keras import callbacks, cli
    kill_at, mode = int(os.environ["AIGC_KILL_AT"]), os.environ["AIGC_KILL_MODE"]
    after_batch = callbacks.Checkpoint.on_train_batch_end
    def on_train_batch_end(self, batch, logs=None):
        after_batch(self, batch, logs)
        steps = self.steps_per_epoch or self.params["steps"]
        if mode == "batch" and self._epoch * steps + self.offset + batch + 1 == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
    callbacks.Checkpoint.on_train_batch_end = on_train_batch_end
    real_replace = os.replace
    def replace(source, target):
        name = os.path.basename(str(target))
        if mode == "write" and os.environ.get("AIGC_KILL_FILE") == name:
            os.kill(os.getpid(), signal.SIGKILL)
        return real_replace(source, target)
    os.replace = replace
    sys.exit(cli.main(sys.argv[1:]))
""")


def _checkpoint_name(step: int, steps_per_epoch: int) -> str:
    epoch, batch = divmod(step, steps_per_epoch)
    return f"ckpt-{epoch:05d}" + (f"-{batch:07d}" if batch else "") + ".npz"


def _soak(tmp_path, command, *, steps_per_epoch, epochs, every, kills, seed):
    """Train ``command`` once straight and once killed at ``kills`` seeded random steps (after the
    first checkpoint, before the last step; the first kill while a checkpoint is written), resumed
    after each kill; returns the two final checkpoints' paths and the steps killed at."""
    total = steps_per_epoch * epochs
    rng = np.random.default_rng(seed)
    moments = sorted(int(s) for s in rng.choice(np.arange(every + 1, total), kills, replace=False))
    checkpoint_steps = [s for s in range(every, total, every) if s % steps_per_epoch]
    writing = int(rng.choice([s for s in checkpoint_steps if s not in moments]))
    plan = sorted([(s, "batch") for s in moments[1:]] + [(writing, "write")])
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    common = [
        *command,
        "--steps", str(steps_per_epoch), "--epochs", str(epochs),
        "--checkpoint-every", str(every), "--precision", "float32", "--xla", "off",
    ]  # fmt: skip

    def run(out, *extra, kill=None):
        program = ["-m", "aigc_keras"]
        environment = dict(env)
        if kill is not None:
            program = ["-c", KILLABLE]
            environment.update(
                AIGC_KILL_AT=str(kill[0]),
                AIGC_KILL_MODE=kill[1],
                AIGC_KILL_FILE=_checkpoint_name(kill[0], steps_per_epoch),
            )
        return subprocess.run(
            [sys.executable, *program, "train", *common, "--out", str(out), *extra],
            capture_output=True,
            text=True,
            env=environment,
            timeout=300,
            cwd=ROOT / "tests",
        )

    name = command[0]
    folder = tmp_path / "killed" / name / "checkpoints"
    for i, (step, mode) in enumerate(plan):
        killed = run(tmp_path / "killed", *(["--resume"] if i else []), kill=(step, mode))
        assert killed.returncode == -signal.SIGKILL, (step, mode, killed.stdout, killed.stderr)
        newest = None
        for _, path in callbacks.Checkpoint(folder).checkpoints():  # every file whole
            with np.load(path, allow_pickle=False) as stored:
                meta = json.loads(str(stored["__meta__"]))
                assert all(stored[key].size >= 0 for key in stored.files)
            newest = meta["epoch"] * steps_per_epoch + meta["extra"].get("batch", 0)
        assert newest == (step - 1) // every * every if mode == "write" else step // every * every
        if mode == "write":
            leftovers = [p.name for p in folder.iterdir() if p.suffix == ".tmp"]
            assert leftovers == [_checkpoint_name(step, steps_per_epoch) + ".tmp"]
    resumed = run(tmp_path / "killed", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    straight = run(tmp_path / "straight")
    assert straight.returncode == 0, straight.stderr
    last = _checkpoint_name(total, steps_per_epoch)
    return folder / last, tmp_path / "straight" / name / "checkpoints" / last, plan


def _same_checkpoints(a_path, b_path):
    with np.load(a_path) as a, np.load(b_path) as b:
        assert set(a.files) == set(b.files)
        for key in a.files:
            if key != "__meta__":
                np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-6, err_msg=key)


@pytest.mark.slow
def test_a_dcgan_killed_at_five_random_moments_ends_with_the_uninterrupted_weights(tmp_path):
    """Five SIGKILLs at seeded random steps of a 120-step run with a checkpoint every 7 steps
    (epochs of 30 steps: most checkpoints fall inside an epoch), one of them while a checkpoint is
    being written, each followed by ``--resume``: the final state equals an uninterrupted run's,
    all of it (weights, the generator's moving average, both optimizers, the step counter, the
    noise generator's state); after each kill every checkpoint on disk is whole and the newest is
    the last one due.  (CycleGAN's image pools resume exactly in its own test; a CycleGAN run in
    a fresh process costs about 20 s here, too much for five.)"""
    killed, straight, plan = _soak(
        tmp_path,
        ["dcgan", "--image-size", "28", "--width", "4", "--batch-size", "32"],
        steps_per_epoch=30,
        epochs=4,
        every=7,
        kills=5,
        seed=0,
    )
    print("killed at steps " + ", ".join(f"{step} ({mode})" for step, mode in plan))
    assert len(plan) == 5 and sum(mode == "write" for _, mode in plan) == 1
    _same_checkpoints(killed, straight)
    with np.load(killed) as stored:
        paths = [
            p for group in json.loads(str(stored["__meta__"]))["layout"].values() for p, *_ in group
        ]
    # the generator's layers twice (live and moving average), the noise generators' states
    assert paths.count("project/kernel") == 2 and "seed_generator/seed_generator_state" in paths
