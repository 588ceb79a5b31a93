"""viz (grids, interpolation), config (modes, folders, report) and callbacks (grids,
TensorBoard)."""

import os
import pathlib
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from tiny_model import TinyGAN

from aigc_keras import callbacks, config, hardware, judges, viz


def test_image_grid_layout_and_values():
    images = np.stack([np.full((4, 5, 1), v, np.float32) for v in (-1.0, 0.0, 1.0)])
    grid = viz.image_grid(images, ncols=2, value_range=(-1, 1), pad=1)
    assert grid.shape == (2 * 5 + 1, 2 * 6 + 1) and grid.dtype == np.uint8
    assert grid[1, 1] == 0 and grid[1, 7] == 128 and grid[6, 1] == 255
    colour = viz.image_grid(np.zeros((2, 3, 3, 3)), value_range=(0, 1))
    assert colour.shape == (5, 9, 3)
    levels = viz.to_uint8(np.array([[[[0]], [[3]]]]), value_range=4)
    assert levels.ravel().tolist() == [32, 223]
    with pytest.raises(ValueError, match="N x H x W x C"):
        viz.image_grid(np.zeros((2, 3)))
    # NaN pixels and images on another scale were drawn without a word (black; all white)
    with pytest.warns(
        UserWarning, match="2 pixel values are NaN or infinite; they are drawn black"
    ):
        drawn = viz.to_uint8(np.array([[[[np.nan]], [[-np.inf]], [[0.0]]]]))
    assert drawn.ravel().tolist() == [0, 0, 128]
    with pytest.warns(UserWarning, match=r"lie in \[0, 240\], far outside value_range \(-1, 1\)"):
        viz.image_grid(np.arange(0, 320, 80).reshape(4, 1, 1, 1).astype(np.uint8))
    # ncols 0 fell back to an automatic layout; a pad of -1 and a scale of 0 failed in NumPy and
    # matplotlib; a string of labels gave one letter per image; a key string one curve per letter
    for call, message in (
        (lambda: viz.image_grid(images, ncols=0), "ncols must be a positive integer, got 0"),
        (lambda: viz.image_grid(images, pad=-1), "pad must be a non-negative integer, got -1"),
        (lambda: viz.show_images(images, scale=0), "scale must be a finite number > 0, got 0"),
        (lambda: viz.show_images(images, labels="abc"), "labels must be one caption per image"),
    ):
        with pytest.raises(ValueError, match=message):
            call()
    with pytest.raises(ValueError, match=r"no curve named \['loss'\]"):
        viz.plot_history({"d_loss": [1.0, 0.5]}, keys="loss")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a sample slightly past the range is only clipped
        assert viz.to_uint8(np.full((1, 1, 1, 1), 1.02)).item() == 255


def test_interpolation_endpoints_and_sphere():
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    line = viz.interpolate(a, b, 5)
    np.testing.assert_allclose(line[0], a) and np.testing.assert_allclose(line[-1], b)
    np.testing.assert_allclose(line[2], [0.5, 0.5])
    arc = viz.interpolate(a, b, 5, spherical=True)
    np.testing.assert_allclose(np.linalg.norm(arc, axis=1), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="same shape"):
        viz.interpolate(a, np.zeros(3))
    with pytest.raises(ValueError, match="integer >= 2"):
        viz.interpolate(a, b, 1)


def test_plot_history_and_save(tmp_path):
    fig = viz.plot_history({"loss": [3, 2, 1], "val_loss": [3, 2.5, 2]}, path=tmp_path / "h.png")
    assert (tmp_path / "h.png").stat().st_size > 0 and len(fig.axes) == 1
    with pytest.raises(ValueError, match="no curve named"):
        viz.plot_history({"loss": [1]}, keys=["acc"])
    # Keras' validation_freq=2 logs val_loss every second epoch (matplotlib's shape error before);
    # a path in a missing folder (FileNotFoundError before) gets its folder
    fig = viz.plot_history(
        {"loss": [4, 3, 2, 1], "val_loss": [3.5, 1.5]}, path=tmp_path / "n/h.png"
    )
    held_out = fig.axes[0].get_lines()[1]
    assert held_out.get_label() == "held-out" and list(held_out.get_xdata()) == [2, 4]
    assert (tmp_path / "n" / "h.png").stat().st_size > 0


def test_modes_pick_and_output_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("AIGC_QUICK", raising=False)
    monkeypatch.delenv("AIGC_MODE", raising=False)
    assert config.mode() == "standard" and config.pick(quick=1, standard=2, full=3) == 2
    monkeypatch.setenv("AIGC_MODE", "full")
    assert config.pick(quick=1, standard=2, full=3) == 3 and config.pick(quick=1, standard=2) == 2
    monkeypatch.setenv("AIGC_QUICK", "1")
    assert config.mode() == "quick" and config.pick(quick=1, standard=2) == 1
    monkeypatch.setenv("AIGC_QUICK", "0")
    assert config.mode() == "full"
    monkeypatch.setenv("AIGC_QUICK", "2")  # was standard mode without a word
    with pytest.raises(ValueError, match="AIGC_QUICK='2' is neither on"):
        config.mode()
    monkeypatch.delenv("AIGC_QUICK")
    monkeypatch.setenv("AIGC_MODE", "turbo")
    with pytest.raises(ValueError, match="quick, standard, full"):
        config.mode()
    monkeypatch.setenv("AIGC_OUTPUT", str(tmp_path / "o"))
    assert (
        config.output_dir("a", "b") == tmp_path / "o" / "a" / "b"
        and (tmp_path / "o" / "a" / "b").is_dir()
    )


def test_a_measurement_is_made_once_and_reused_only_under_the_same_settings(
    capsys, tmp_path, monkeypatch
):
    """``config.measured``: a re-run of a cell reads its figures back (and says so); other
    settings, another environment or a damaged file measure again; bad input is refused."""
    calls = []

    def measure():
        calls.append(1)
        return {"speed": np.float32(2.5), "sizes": (1, 16), "same": np.bool_(True)}

    path = tmp_path / "deep" / "speed.json"
    first = config.measured(path, measure, settings={"batches": (1, 16)})
    assert first == {"speed": 2.5, "sizes": [1, 16], "same": True} and len(calls) == 1
    assert capsys.readouterr().out == ""  # a first measurement adds no line of its own
    again = config.measured(path, measure, settings={"batches": [1, 16]})  # a tuple = its list
    assert again == first and len(calls) == 1
    assert "reusing the measurement of " in capsys.readouterr().out
    config.measured(path, measure, settings={"batches": [1]})
    assert len(calls) == 2 and "with other settings: measuring again" in capsys.readouterr().out
    monkeypatch.setattr(hardware, "environment_report", lambda: "another machine")
    config.measured(path, measure, settings={"batches": [1]})
    assert len(calls) == 3 and "with other environment: measuring again" in capsys.readouterr().out
    path.write_text('{"result": 1')  # cut short
    assert config.measured(path, measure, settings={"batches": [1]})["speed"] == 2.5
    assert len(calls) == 4 and "is not a measurement record" in capsys.readouterr().out
    assert sorted(p.name for p in path.parent.iterdir()) == ["speed.json"]  # no temporary left

    with pytest.raises(ValueError, match="measure should be a function"):
        config.measured(path, 3)
    with pytest.raises(ValueError, match="path should name a file .* got the folder"):
        config.measured(tmp_path, measure)
    with pytest.raises(ValueError, match="settings should be JSON data .* of type object"):
        config.measured(path, measure, settings={"data": object()})
    with pytest.raises(ValueError, match=r"measure\(\)'s result should be JSON data .* type set"):
        config.measured(tmp_path / "other.json", lambda: {1, 2})
    assert not (tmp_path / "other.json").exists()


def test_environment_report_and_precision(policy):
    line = hardware.environment_report()
    for field in ("TensorFlow", "Keras", "CPU", "precision ", "XLA ", "strategy", "mode"):
        assert field in line
    policy("mixed_bfloat16")
    assert "precision mixed_bfloat16" in hardware.environment_report()
    with pytest.raises(ValueError, match="float32, mixed_float16, mixed_bfloat16"):
        hardware.set_precision("float64")
    with pytest.raises(ValueError, match="non-negative integer"):
        config.set_seed(-1)


def test_sample_grid_callback_is_fixed_and_saved(tmp_path, digits8):
    model = TinyGAN()
    model.compile()
    grids = callbacks.SampleGrid(tmp_path, every=2, n=9)
    model.fit(
        tf.data.Dataset.from_tensor_slices(digits8.images[:64]).batch(32),
        epochs=4,
        verbose=0,
        callbacks=[grids],
    )
    assert sorted(grids.grids) == [2, 4] and [p.name for p in grids.paths] == [
        "samples_epoch0002.png",
        "samples_epoch0004.png",
    ]
    assert grids.grids[2].shape == (3 * 9 + 1, 3 * 9 + 1)
    again = viz.image_grid(model.generate(9, seed=grids.seed))
    np.testing.assert_array_equal(again, grids.grids[4])  # the same latents every time
    # draw() gives the picture of the trained model, or of another one (a LiveTraining grid).
    np.testing.assert_array_equal(grids.draw(), grids.grids[4])
    other = TinyGAN()
    np.testing.assert_array_equal(
        grids.draw(other), viz.image_grid(other.generate(9, seed=grids.seed))
    )
    assert not np.array_equal(grids.draw(other), grids.draw())


def test_sample_grid_labels_are_checked_against_the_model_before_training(tmp_path):
    """A class the model does not have stopped the run only after its first epoch."""
    from aigc_keras.models import gan

    model = gan.ConditionalGAN(image_size=16, num_classes=3, width=8, latent_dim=8)
    model.compile()
    before = [w.copy() for w in model.generator.get_weights()]
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (32, 16, 16, 1)).astype(np.float32)
    batches = tf.data.Dataset.from_tensor_slices((images, np.arange(32) % 3)).batch(16)
    for labels, message in (
        ([0, 1, 3], r"labels must be in 0..2, got 0..3"),
        ([[1, 2]], "labels must be a 1-D sequence of integer class ids"),
    ):
        grids = callbacks.SampleGrid(tmp_path, labels=labels)
        with pytest.raises(ValueError, match=message):
            model.fit(batches, epochs=1, verbose=0, callbacks=[grids])
    for old, new in zip(before, model.generator.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)  # refused before the first step
    assert not list(tmp_path.iterdir())


def test_tensorboard_callback_logs_images(tmp_path, digits8):
    model = TinyGAN()
    model.compile()
    board = callbacks.TensorBoardImages(tmp_path, n=4)
    model.fit(
        tf.data.Dataset.from_tensor_slices(digits8.images[:32]).batch(32),
        epochs=1,
        verbose=0,
        callbacks=[board],
    )
    events = list((tmp_path / "samples").glob("events.out.tfevents.*"))
    assert events
    tags = {
        value.tag
        for event in tf.compat.v1.train.summary_iterator(str(events[0]))
        for value in event.summary.value
    }
    assert "samples" in tags


def test_save_image_writes_the_exact_bytes(tmp_path):
    from PIL import Image

    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)  # every level once
    colour = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    for array in (grey, colour):
        path = viz.save_image(array, tmp_path / f"{array.ndim}.png")
        np.testing.assert_array_equal(np.asarray(Image.open(path)), array)
    with pytest.raises(ValueError, match="needs a uint8"):
        viz.save_image(grey.astype(np.float32), tmp_path / "f.png")
    # a folder raised IsADirectoryError from the final rename; a .jpg name got PNG bytes
    with pytest.raises(ValueError, match="is a folder; give the PNG file's path"):
        viz.save_image(grey, tmp_path)
    with pytest.raises(ValueError, match="writes PNG files; name it .png"):
        viz.save_image(grey, tmp_path / "x.jpg")


def test_hardware_defaults_chosen_in_config(
    policy, monkeypatch
):  # policy: set up first, undone last
    """float32 and no XLA on a CPU without bfloat16 instructions; mixed_float16 on a tensor-core
    GPU, float32 on an older one; a user's choice is never replaced; the batch scales with the
    replicas."""
    import tensorflow as tf

    from aigc_keras.models.gan import DCGAN

    monkeypatch.setattr(
        hardware, "gpus", lambda: []
    )  # a CPU, even where the tests run on a GPU machine
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    monkeypatch.setitem(hardware._state, "cpu_flags", frozenset({"avx2"}))
    assert hardware.default_precision() == "float32" and hardware.jit_compile() is False
    line = hardware.environment_report()
    assert (
        "precision float32 (hardware default)" in line
        and "XLA off (hardware default in quick mode)" in line
    )
    assert "batch: recipe x1 replicas" in line
    details = {"compute_capability": (7, 5)}
    monkeypatch.setattr(hardware, "gpus", lambda: ["fake GPU"])
    monkeypatch.setattr(tf.config.experimental, "get_device_details", lambda gpu: details)
    assert hardware.default_precision() == "mixed_float16" and hardware.jit_compile() is True
    details["compute_capability"] = (6, 0)
    assert hardware.default_precision() == "float32"
    details["compute_capability"] = (8, 0)
    policy("mixed_bfloat16")  # the user's choice
    assert (
        hardware.model_precision(DCGAN) == "mixed_bfloat16"
        and hardware.precision() == "mixed_bfloat16"
    )
    policy("float32")
    assert (
        hardware.model_precision(DCGAN) == "float32"
    )  # chosen explicitly: kept, though the GPU would want float16
    monkeypatch.setitem(hardware._state, "precision_chosen", False)
    assert (
        hardware.model_precision(DCGAN) == "mixed_float16"
    )  # nothing chosen: the hardware's default
    assert hardware.set_precision("auto") == "mixed_float16"
    with pytest.raises(ValueError, match="use 'auto' or one of float32"):
        hardware.set_precision("float8")


def test_xla_default_on_this_cpu_is_per_model_from_the_benchmark(monkeypatch):
    """On a CPU, XLA where the benchmark measured it at least XLA_MIN_GAIN faster (standard and full
    mode; on this project's CPU only CycleGAN), never in quick mode (runs too short to repay the
    compile), never for a model XLA cannot compile."""
    import tensorflow as tf

    from aigc_keras.models import cnn, cyclegan, editing, gan, pixelcnn, vae

    monkeypatch.setattr(hardware, "gpus", lambda: [])
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    assert config.is_quick() and not hardware.jit_compile(
        cyclegan.CycleGAN
    )  # the tests run in quick mode
    assert hardware.jit_compile(cyclegan.CycleGAN, quick=False) and not hardware.jit_compile(
        gan.DCGAN, quick=False
    )
    monkeypatch.delenv("AIGC_QUICK")
    monkeypatch.setenv("AIGC_MODE", "standard")

    class MyTranslator(cyclegan.CycleGAN):  # a user's subclass takes its nearest listed base
        pass

    on = {
        c: hardware.jit_compile(c)
        for c in (
            gan.DCGAN,
            gan.WGANGP,
            vae.VAE,
            vae.VAEGAN,
            pixelcnn.PixelCNN,
            cnn.CNNClassifier,
            editing.SuperResolution,
            cyclegan.CycleGAN,
            MyTranslator,
        )
    }
    assert on == {
        gan.DCGAN: False,
        gan.WGANGP: False,
        vae.VAE: False,
        vae.VAEGAN: False,
        pixelcnn.PixelCNN: False,
        cnn.CNNClassifier: False,
        editing.SuperResolution: False,
        cyclegan.CycleGAN: True,
        MyTranslator: True,
    }
    xla_gains = hardware.measured_defaults()["cpu_xla_gain"]
    assert [n for n, g in xla_gains.items() if g and g >= hardware.XLA_MIN_GAIN] == ["CycleGAN"]
    model = gan.DCGAN(image_size=16, latent_dim=8)
    model.compile()
    assert model.jit_compile is False
    model.compile(jit_compile=True)  # the user's choice wins
    assert model.jit_compile is True
    assert "XLA per model (hardware default: on for CycleGAN)" in hardware.environment_report()
    assert "XLA on (hardware default for CycleGAN)" in hardware.environment_report(
        cyclegan.CycleGAN
    )
    assert "XLA off (hardware default for VAEGAN)" in hardware.environment_report(vae.VAEGAN)
    hardware.set_jit_compile(True)  # --xla on
    try:
        assert hardware.jit_compile(vae.VAEGAN) and not hardware.jit_compile(
            editing.SuperResolution
        )
        assert "XLA on |" in hardware.environment_report(vae.VAEGAN)
    finally:
        hardware.set_jit_compile("auto")
    with pytest.raises(
        ValueError, match="jit_compile must be True, False, None or 'auto', got 'yes'"
    ):
        model.compile(jit_compile="yes")


def test_bfloat16_default_on_a_cpu_with_bfloat16_instructions_is_per_model(
    policy, monkeypatch, tmp_path
):
    """A CPU with AVX512_BF16 or AMX: mixed_bfloat16 for each model the benchmark measured at least
    BF16_MIN_GAIN faster in it (a subclass takes its base's entry), float32 for the others, for
    models in general and for the judge classifier; a CPU without them: float32 for every model; the
    user's choice wins."""
    import tensorflow as tf

    from aigc_keras.models import cnn, cyclegan, gan, vae

    monkeypatch.setattr(hardware, "gpus", lambda: [])
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])

    class MyGAN(gan.DCGAN):  # a user's subclass
        pass

    class MyVAEGAN(vae.VAEGAN):
        pass

    classes = (
        cnn.CNNClassifier,
        gan.DCGAN,
        gan.ConditionalGAN,
        vae.VAE,
        vae.ConditionalVAE,
        vae.VAEGAN,
        cyclegan.CycleGAN,
        MyGAN,
        MyVAEGAN,
    )
    monkeypatch.setitem(hardware._state, "cpu_flags", frozenset({"sse2", "avx2", "avx512f"}))
    assert {hardware.default_precision(c) for c in classes} == {"float32"}
    assert "precision float32 (hardware default)" in hardware.environment_report()
    monkeypatch.setitem(
        hardware._state, "cpu_flags", frozenset({"sse2", "avx2", "avx512f", "avx512_bf16"})
    )
    # the VAE gains too little; the conditional GAN and the VAEGAN fail their quality tests in
    # bfloat16; CycleGAN's XLA beats it
    assert [hardware.default_precision(c) for c in classes] == [
        "mixed_bfloat16",
        "mixed_bfloat16",
        "float32",
        "float32",
        "mixed_bfloat16",
        "float32",
        "float32",
        "mixed_bfloat16",
        "float32",
    ]
    assert hardware.default_precision() == "float32"
    hardware.set_jit_compile(True)  # --xla on: the gains are graph-mode figures, so float32
    try:
        assert hardware.default_precision(gan.DCGAN) == "float32"
    finally:
        hardware.set_jit_compile("auto")
    bf16_gains = hardware.measured_defaults()["cpu_bf16_gain"]
    failing = hardware.measured_defaults()["cpu_bf16_fails_quality"]
    assert set(failing) == {"VAEGAN", "ConditionalGAN"}
    faster = [n for n, g in bf16_gains.items() if g >= hardware.BF16_MIN_GAIN and n not in failing]
    assert "VAE" not in faster and "CycleGAN" not in faster and len(faster) == 13
    assert (
        f"precision per model (hardware default: mixed_bfloat16 for {', '.join(faster)}; "
        "float32 otherwise)" in hardware.environment_report()
    )
    assert "precision mixed_bfloat16 (hardware default for DCGAN)" in hardware.environment_report(
        gan.DCGAN
    )

    policy(
        "auto"
    )  # nothing chosen: each model made takes its own default, whichever model came before
    made = [
        gan.DCGAN(image_size=16, latent_dim=8, width=8),
        vae.VAE(image_size=16, latent_dim=4, width=8),
        MyGAN(image_size=16, latent_dim=8, width=8),
    ]
    assert [m.dtype_policy.name for m in made] == ["mixed_bfloat16", "float32", "mixed_bfloat16"]
    assert (
        hardware.precision() == "float32"
    )  # Keras' global policy: each model was built under its own
    assert (
        keras.layers.Dense(2).dtype_policy.name == "float32"
    )  # a user's own layer does not follow the last model
    assert (
        made[0].generator.layers[1].compute_dtype == "bfloat16"
        and made[0].generator.layers[1].dtype == "float32"
    )
    assert {layer.compute_dtype for layer in made[1].encoder.layers} == {"float32"}
    assert "precision float32 (hardware default for VAE)" in hardware.environment_report(made[1])
    policy("float32")  # the user's choice wins
    assert gan.DCGAN(image_size=16, latent_dim=8, width=8).dtype_policy.name == "float32"
    assert "precision float32 |" in hardware.environment_report(gan.DCGAN)
    policy("auto")

    # The judge of the other models is float32 whatever the CPU, trained or loaded from its cache.
    monkeypatch.setenv("AIGC_OUTPUT", str(tmp_path))
    seen = []

    def small_training(train, test, epochs, verbose, augment, callbacks):
        seen.append(hardware.precision())
        return cnn.CNNClassifier(image_size=8, width=4, feature_dim=8), None

    monkeypatch.setattr(cnn, "train_classifier", small_training)
    trained, loaded = judges.load_classifier(8, epochs=1), judges.load_classifier(8, epochs=1)
    cached = list(tmp_path.glob("cache/cnn_mnist_*_8px_*.keras"))
    assert seen == ["float32"] and len(cached) == 1
    for judge in (trained, loaded):
        assert judge.dtype_policy.name == "float32"
        assert {layer.compute_dtype for layer in judge.network.layers} == {"float32"}
    assert (
        cnn.CNNClassifier(image_size=8, width=4, feature_dim=8).dtype_policy.name
        == "mixed_bfloat16"
    )
    assert (
        hardware.precision() == "float32"
    )  # neither the judge's scope nor the models changed the global policy
    assert not hardware.user_chose_precision()  # the scope restored the automatic choice


def test_default_batch_is_per_replica():
    assert hardware.default_batch_size() == 64 and hardware.default_batch_size(8) == 8
    with hardware.strategy("mirrored").scope():
        assert hardware.default_batch_size() == 128


def _python(code, tmp_path, **env):
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**environment, **env},
        timeout=300,
    )


def test_start_tensorflow_keeps_the_cpp_start_up_lines_off_stderr(tmp_path):
    """The notebooks' first cell: nothing on stderr (TensorFlow writes its start-up lines from C++
    to file descriptor 2, before it reads TF_CPP_MIN_LOG_LEVEL)."""
    quiet = _python(
        "from aigc_keras import config; tf = config.start_tensorflow(); "
        "print(tf.__name__, len(tf.config.list_physical_devices()) > 0)",
        tmp_path,
    )
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.split() == ["tensorflow", "True"]
    assert quiet.stderr == ""
    with pytest.raises(ValueError, match="log_level should be one of"):
        config.start_tensorflow(log_level="verbose")


def test_start_tensorflow_replays_what_a_failed_import_wrote(tmp_path):
    """A failing import shows everything it wrote to stderr, then its error."""
    fake = tmp_path / "tensorflow"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        "import os\nos.write(2, b'libfoo.so: cannot open shared object file\\n')\n"
        "raise ImportError('the fake TensorFlow failed to load')\n"
    )
    failed = _python(
        "from aigc_keras import config\n"
        "try:\n"
        "    config.start_tensorflow()\n"
        "except ImportError as error:\n"
        "    print('raised:', error)\n",
        tmp_path,
        PYTHONPATH=str(tmp_path),
    )
    assert "libfoo.so: cannot open shared object file" in failed.stderr
    assert "raised: the fake TensorFlow failed to load" in failed.stdout


class _Clock:
    """A clock that stands still until a callback moves it on."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def every_batch(self, seconds):
        def advance(batch, logs):
            self.now += seconds

        return keras.callbacks.LambdaCallback(on_train_batch_end=advance)


def test_live_training_prints_progress_at_least_every_interval(capsys, digits8):
    data = tf.data.Dataset.from_tensor_slices(digits8.images[:128]).batch(32)  # 4 batches
    model = TinyGAN()
    model.compile()
    clock = _Clock()
    # Each batch "takes" 2 s: every_s=3 updates after every second batch, except that an epoch's
    # last batch leaves the update to the epoch's end, just after it.
    live = callbacks.LiveTraining(every_s=3, show=False, clock=clock, title="tiny")
    model.fit(data, epochs=2, verbose=0, callbacks=[clock.every_batch(2.0), live])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == live.lines
    assert len(lines) == 2 * 2 + 1  # per epoch: one update in the epoch and one at its end; done
    assert lines[0].startswith("tiny · epoch 1/2 · step 2/4 · 4 s · about 12 s left · ")
    assert "d_loss" in lines[0] and "g_loss" in lines[0]
    assert lines[1].startswith("tiny · epoch 1/2 · step 4/4 · 8 s · about 8 s left · ")
    assert lines[-1].startswith("tiny · epoch 2/2 · step 4/4 · done in 16 s · ")
    # The closing line repeats the last epoch's means (its own line's values), not the curve's last
    # point, which averages only the batches since the update before it.
    assert lines[-1].split(" · ")[4:] == lines[-2].split(" · ")[5:]
    assert live.records[-1]["d_loss"] != live.epoch_records[-1]["d_loss"]
    assert [r["step"] for r in live.records] == [2, 4, 6, 8]
    assert [r["epoch"] for r in live.epoch_records] == [1, 2]
    # The same training with a long interval: only the epochs' ends and the end.
    quiet = callbacks.LiveTraining(every_s=1e9, show=False, clock=clock)
    model.fit(data, epochs=2, verbose=0, callbacks=[clock.every_batch(2.0), quiet])
    assert len(capsys.readouterr().out.strip().splitlines()) == 3
    # The curves hold each interval's mean, not Keras' running mean of the epoch so far: with a
    # point per batch, an epoch's points average to the epoch's logged mean.
    every = callbacks.LiveTraining(every_s=0, show=False)
    model.fit(data, epochs=2, verbose=0, callbacks=[every])
    capsys.readouterr()
    assert [r["step"] for r in every.records] == list(range(1, 9))
    for epoch in (0, 1):
        points = every.records[4 * epoch : 4 * epoch + 4]
        for key in ("d_loss", "g_loss"):
            mean = np.mean([p[key] for p in points])
            assert mean == pytest.approx(every.epoch_records[epoch][key], rel=1e-5)
        assert np.ptp([p["d_loss"] for p in points]) > 0  # not the same value repeated
    for bad in (-1, "10", True, float("nan"), float("inf")):  # NaN passed "< 0"
        with pytest.raises(ValueError, match=r"every_s \(seconds\) must be a finite number >= 0"):
            callbacks.LiveTraining(every_s=bad)
    assert callbacks.LiveTraining(every_s=np.float32(2.5)).every_s == 2.5  # NumPy numbers too
    with pytest.raises(ValueError, match="show must be True, False or None"):
        callbacks.LiveTraining(show="no")  # bool("no") forced the display
    for grid in ("samples", np.zeros((2, 2))):  # an array raised "truth value ... is ambiguous"
        with pytest.raises(ValueError, match="grid should be 'auto', None or a callable"):
            callbacks.LiveTraining(grid=grid)


def test_a_time_budget_stops_training_and_a_rerun_knows_what_it_trained(capsys, tmp_path, digits8):
    """``stop_after_s``: the clock starts after the first batch; training stops at the first batch
    that ends past the budget, the epoch's checkpoint keeps it, and a re-run trains nothing."""
    data = tf.data.Dataset.from_tensor_slices(digits8.images[:128]).batch(32).repeat()
    clock = _Clock()

    def run():
        model = TinyGAN()
        model.compile()
        ckpt = callbacks.Checkpoint(tmp_path / "checkpoints")
        live = callbacks.LiveTraining(
            every_s=3, show=False, clock=clock, folder=tmp_path, title="tiny", stop_after_s=7
        )
        model.fit(
            data,
            epochs=1,
            steps_per_epoch=1000,  # a cap
            initial_epoch=ckpt.restore(model),
            verbose=0,
            callbacks=[clock.every_batch(2.0), live, ckpt],
        )
        capsys.readouterr()
        return model, live

    # Each batch "takes" 2 s: the clock starts at the end of batch 1 and reads 8 s at the end of
    # batch 5, the first past 7 s.
    model, live = run()
    assert (live.budget_steps, live.budget_seconds) == (5, 8.0)
    assert int(model.optimizers["generator"].iterations) == 5
    assert live.lines[0].startswith("tiny · epoch 1/1 · step 2 · 4 s · about 5 s left · ")
    assert live.lines[1].startswith("tiny · epoch 1/1 · step 4 · 8 s · about 1 s left · ")
    assert live.lines[2].startswith("tiny · epoch 1/1 · step 5 · 10 s · about 0 s left · ")
    assert live.lines[-1].startswith("tiny · epoch 1/1 · step 5 · done in 10 s · ")
    assert "budget" not in live.lines[-1] and live.epoch_records[0]["budget_steps"] == 5
    again, rerun = run()
    assert rerun.status == "already trained" and int(again.optimizers["generator"].iterations) == 5
    assert (rerun.budget_steps, rerun.budget_seconds) == (5, 8.0)
    for bad in (0, -1, "10", True, float("inf")):
        with pytest.raises(
            ValueError, match=r"stop_after_s \(seconds\) must be a finite number > 0"
        ):
            callbacks.LiveTraining(stop_after_s=bad)


@pytest.mark.parametrize(
    "every_s, steps, epochs",
    [(3, 1000, 1), (1e9, 2, 10)],  # timed updates within an epoch; only the epochs' ends
)
def test_the_time_budget_does_not_count_the_display(capsys, digits8, every_s, steps, epochs):
    """A display that takes long to draw (a diffusion model's samples) spends none of the
    training budget, whether it updates within an epoch or at its end: the same batches train
    as with a quick one, and the budget's seconds are the batches' alone."""
    data = tf.data.Dataset.from_tensor_slices(digits8.images[:128]).batch(32).repeat()
    clock = _Clock()

    def slow_grid(model):
        clock.now += 5.0  # drawing the samples "takes" 5 s
        return np.zeros((8, 8), np.uint8)

    model = TinyGAN()
    model.compile()
    live = callbacks.LiveTraining(
        every_s=every_s, show=True, grid=slow_grid, clock=clock, stop_after_s=7
    )
    model.fit(
        data,
        epochs=epochs,
        steps_per_epoch=steps,
        verbose=0,
        callbacks=[clock.every_batch(2.0), live],
    )
    capsys.readouterr()
    # As without the display's seconds (the test above): updates after batches 2 and 4 take 5 s
    # each, and the clock that started after batch 1 reads 8 s of batches after batch 5.
    assert (live.budget_steps, live.budget_seconds) == (5, 8.0)
    assert int(model.optimizers["generator"].iterations) == 5
    assert clock.now == 5 * 2.0 + 4 * 5.0  # four updates took their time: after 2, 4, 5, the end


def test_a_resumed_run_continues_the_curves_and_the_sample_grids(capsys, tmp_path, digits8):
    """A notebook re-run after a disconnect: the checkpoint resumes training, LiveTraining and
    SampleGrid pick up what the first run saved, and a run with nothing left to train still has
    the whole run's curves and grids to show."""
    data = tf.data.Dataset.from_tensor_slices(digits8.images[:128]).batch(32)  # 4 batches

    clock = _Clock()

    def run(epochs):
        model = TinyGAN()
        model.compile()
        ckpt = callbacks.Checkpoint(tmp_path / "checkpoints")
        live = callbacks.LiveTraining(
            every_s=0, show=False, folder=tmp_path, title="tiny", clock=clock
        )
        grids = callbacks.SampleGrid(tmp_path, every=1, n=4)
        model.fit(
            data,
            epochs=epochs,
            initial_epoch=ckpt.restore(model),
            verbose=0,
            callbacks=[grids, live, ckpt, clock.every_batch(2.0)],
        )
        return live, grids, capsys.readouterr().out

    first, first_grids, out = run(2)
    assert "training from the start" in out and first.status == "trained"
    assert [r["step"] for r in first.records] == list(range(1, 9))
    # each batch "takes" 2 s: 8 s per epoch of 4 batches, kept with the curves; never drawn
    assert [r["train_seconds"] for r in first.epoch_records] == [8.0, 16.0]
    assert first.train_seconds == 16.0 and "train_seconds" not in first.lines[-1]
    assert first.lines[-1].startswith("tiny · epoch 2/2 · step 4/4 · done in 16 s")
    assert (tmp_path / "live.json").exists() and sorted(first_grids.grids) == [1, 2]

    second, second_grids, out = run(3)  # one more epoch
    assert "resumed from" in out and second.status == "resumed at epoch 2"
    assert [r["step"] for r in second.records] == list(range(1, 13))
    assert second.records[:8] == first.records  # the first run's points, then the new ones
    assert [r["epoch"] for r in second.epoch_records] == [1, 2, 3]
    assert "resumed at epoch 2" in second.lines[0] and "epoch 3/3 · step 1/4" in second.lines[0]
    assert sorted(second_grids.grids) == [1, 2, 3]
    np.testing.assert_array_equal(second_grids.grids[2], first_grids.grids[2])  # read back

    third, third_grids, out = run(3)  # nothing left: the finished run is shown
    assert third.status == "already trained" and len(third.lines) == 1
    assert third.lines[0].startswith("tiny · epoch 3/3 · already trained (12 steps)")
    assert third.records == second.records and third.epoch_records == second.epoch_records
    assert sorted(third_grids.grids) == [1, 2, 3]
    # the training's time: the first run's two epochs, then the resumed run's one on top
    assert second.train_seconds == third.train_seconds == 24.0

    # A run killed after its third epoch's curves were saved but before that checkpoint was
    # written resumes at epoch 2 and keeps only the points up to it.
    (tmp_path / "checkpoints" / "ckpt-00003.npz").unlink()
    fourth, fourth_grids, _ = run(3)
    assert fourth.status == "resumed at epoch 2"
    assert [r["step"] for r in fourth.records] == list(range(1, 13))
    assert [r["epoch"] for r in fourth.epoch_records] == [1, 2, 3]
    assert sorted(fourth_grids.grids) == [1, 2, 3]


@pytest.mark.parametrize(
    ("every_s", "steps"), [(13, [8, 16]), (9, [5, 8, 13, 16]), (7, [4, 8, 12, 16])]
)
def test_live_training_folds_a_short_stretch_at_an_epoch_s_end_into_the_last_point(
    every_s, steps, capsys, digits8
):
    """Batches of 2 s, 8 per epoch. Updating every 13 s falls after batch 7: the epoch's last
    batch alone would make a point of one batch, so the epoch keeps one point, the epoch's mean;
    every 9 s (after batch 5: 3 batches left, not fewer than half of 5) and every 7 s (after
    batch 4) both stretches keep their points."""
    data = tf.data.Dataset.from_tensor_slices(digits8.images[:128]).batch(16)  # 8 batches
    model = TinyGAN()
    model.compile()
    clock = _Clock()
    live = callbacks.LiveTraining(every_s=every_s, show=False, clock=clock)
    model.fit(data, epochs=2, verbose=0, callbacks=[clock.every_batch(2.0), live])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 * 2 + 1  # a timed update and an epoch's end, twice; done
    assert [r["step"] for r in live.records] == steps
    per_epoch = len(steps) // 2
    for epoch in (0, 1):
        points = live.records[per_epoch * epoch : per_epoch * (epoch + 1)]
        batches = np.diff([8 * epoch] + [p["step"] for p in points])
        for key in ("d_loss", "g_loss"):  # each point the mean of its batches
            mean = np.average([p[key] for p in points], weights=batches)
            assert mean == pytest.approx(live.epoch_records[epoch][key], rel=1e-5)


def test_live_training_updates_one_notebook_display_in_place(
    monkeypatch, capsys, digits8, tmp_path
):
    from IPython import display

    shown = []

    class Handle:
        def update(self, obj):
            shown.append(("update", obj))

    def fake_display(obj, display_id=False):
        assert display_id is True
        shown.append(("display", obj))
        return Handle()

    monkeypatch.setattr(display, "display", fake_display)
    model = TinyGAN()
    model.compile()
    live = callbacks.LiveTraining(every_s=1e9, n=16, show=True)
    model.fit(
        tf.data.Dataset.from_tensor_slices(digits8.images[:64]).batch(32),
        epochs=3,
        verbose=0,
        callbacks=[live],
    )
    assert [kind for kind, _ in shown] == ["display"] + ["update"] * 3  # 3 epoch ends, the end
    # Under the picture, the epochs' ends and the end stay as text lines.
    assert capsys.readouterr().out.strip().splitlines() == live.lines
    assert [line.split(" · ")[0] for line in live.lines] == [
        "epoch 1/3",
        "epoch 2/3",
        "epoch 3/3",
        "epoch 3/3",
    ]
    assert all(isinstance(obj, display.Image) and obj.data[:4] == b"\x89PNG" for _, obj in shown)
    # The picture: the fixed-latent samples (the same each update) and the loss curves.
    np.testing.assert_array_equal(live.picture, viz.image_grid(model.generate(16, seed=live.seed)))
    fig = live.figure("line", live.picture)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "samples (fixed latents)"
    assert fig.axes[1].get_xlabel() == "training step" and fig.axes[1].get_ylabel() == "loss"
    assert sorted(t.get_text() for t in fig.axes[1].get_legend().get_texts()) == [
        "d_loss",
        "g_loss",
    ]
    # The header can be read (11 points: at the picture's 80 dpi 9 drew letters about 7 pixels
    # high), a long progress line wraps inside the figure, and no legend covers its curves.
    long_line = " · ".join(["epoch 3/3", "step 2/2"] + [f"loss_{i} 0.1234" for i in range(24)])
    fig = live.figure(long_line, live.picture)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    header = fig.get_suptitle()
    assert header.replace("\n", " · ") == long_line and header.count("\n") >= 2
    header_box = fig._suptitle.get_window_extent(renderer)
    assert fig._suptitle.get_fontsize() >= 11
    assert fig.bbox.x0 <= header_box.x0 and header_box.x1 <= fig.bbox.x1
    assert header_box.y1 <= fig.bbox.y1
    for ax in fig.axes:
        assert not header_box.overlaps(ax.get_tightbbox(renderer)), ax.get_title()
        if ax.get_legend() is not None:
            legend_box = ax.get_legend().get_window_extent(renderer)
            assert not legend_box.overlaps(ax.get_window_extent(renderer)), ax.get_ylabel()
            assert fig.bbox.x0 <= legend_box.x0 and legend_box.x1 <= fig.bbox.x1
    viz._matplotlib().close("all")
    # The other batch values (TinyGAN logs noise_mean) get a panel; an end-of-epoch value (a FID
    # from QualityTracker) one more, and a val_ value joins the batch curve it validates.
    assert [name for name, _ in live.panels()] == ["loss", "value"]
    assert len(fig.axes) == 3
    live.epoch_records[-1]["fid"] = 12.5
    live.epoch_records[-1]["val_g_loss"] = 0.5
    panels = dict(live.panels())
    assert [key for key, _, _ in panels["loss"]] == ["d_loss", "g_loss", "val_g_loss"]
    assert panels["value at the epoch's end"] == [("fid", [live.epoch_records[-1]["step"]], [12.5])]
    assert len(live.figure("line", live.picture).axes) == 4
    captioned = callbacks.LiveTraining(grid=lambda m: live.picture, grid_title="inputs, outputs")
    captioned.records = live.records
    assert captioned.figure("line", live.picture).axes[0].get_title() == "inputs, outputs"
    # Without grid_title the caption says what the grid draws: a grid callback's own caption, none
    # for another callable, and "fixed seed" for samples of a model without latent vectors.
    pairs = callbacks.TranslationGrid(tmp_path, digits8.images[:2], digits8.images[2:4])
    assert callbacks.LiveTraining(grid=pairs.draw).caption() == pairs.caption()
    assert pairs.caption().startswith("rows: a, G(a)")
    assert callbacks.LiveTraining(grid=lambda m: live.picture).caption() == ""
    no_latents = callbacks.LiveTraining()
    no_latents.set_model(keras.Sequential([keras.Input((2,))]))
    assert no_latents.caption() == "samples (fixed seed)"
    # A model without generate(): no samples, only the curves.
    assert callbacks.LiveTraining(grid=None).grid is None


def test_show_code_shows_the_package_source_and_names_what_is_missing(capsys):
    from aigc_keras.models import gan

    assert viz.show_code("aigc_keras.models.gan.DCGAN.train_step") is None
    shown = capsys.readouterr().out  # printed outside a notebook
    assert shown.strip() == viz.code_of("aigc_keras.models.gan.DCGAN.train_step").strip()
    header, first = shown.splitlines()[:2]
    assert header.startswith("# aigc_keras/models/gan.py, lines ")
    assert first.startswith("def train_step(self")
    start, end = (int(n) for n in header.rsplit(" ", 1)[1].split("-"))
    file_lines = pathlib.Path(gan.__file__).read_text().splitlines()
    assert file_lines[start - 1].strip().startswith("def train_step(self")
    assert len(shown.rstrip().splitlines()) == end - start + 2  # the header and every line
    # A docstring is dropped unless asked for.
    loss = viz.code_of("aigc_keras.losses.generator_loss")
    with_doc = viz.code_of("aigc_keras.losses.generator_loss", docstring=True)
    assert '"""' in with_doc and '"""' not in loss
    assert loss.splitlines()[1] == with_doc.splitlines()[1]  # the def line
    assert loss.splitlines()[-1] == with_doc.splitlines()[-1]  # the body kept
    assert viz.code_of(gan.DCGAN.train_step).strip() == shown.strip()  # the object or its name
    with pytest.raises(ValueError, match=r"aigc_keras.models.gan.DCGAN has no 'train_stp'.*"):
        viz.code_of("aigc_keras.models.gan.DCGAN.train_stp")
    with pytest.raises(ValueError, match="has no 'NoSuchModel'; it has: .*DCGAN"):
        viz.code_of("aigc_keras.models.gan.NoSuchModel")
    with pytest.raises(ValueError, match="no Python source"):
        viz.code_of(len)


def test_the_live_picture_s_header_wraps_at_its_separators_and_loses_nothing():
    wrap = callbacks._wrap_header
    limit = int(0.9 * 4.2 * 72 / (0.6 * callbacks.LIVE_HEADER_POINTS))  # one panel's width: 41
    assert limit == 41
    line = " · ".join(["PixelCNN", "epoch 2/5", "step 40/200", "12 s", "about 1 min left"] * 3)
    rows = wrap(line, 4.2).split("\n")
    assert " · ".join(rows) == line and len(rows) > 2
    assert all(len(row) <= limit for row in rows)
    # full rows: the next part would not have fitted
    parts = line.split(" · ")
    used = 0
    for row in rows[:-1]:
        used += len(row.split(" · "))
        assert len(row) + 3 + len(parts[used]) > limit
    assert wrap("short · line", 4.2) == "short · line"
    assert wrap(" · a · b", 4.2) == " · a · b"  # an empty first part is kept
    long_title = "x" * 60
    assert wrap(f"{long_title} · epoch 1/2", 4.2) == f"{long_title}\nepoch 1/2"  # kept whole
    assert wrap(line, 40.0) == line  # a wide figure: one row
