"""The registry: a model written here joins the command line without a change to the package, and
the exported networks carry the metadata record the commands dispatch on."""

import hashlib
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from aigc_keras import cli, losses, registry
from aigc_keras.models import base, editing
from aigc_keras.spec import ModelSpec

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "aigc_keras"


class ToyGAN(base.GenerativeModel):
    """A dense GAN on small digits, defined here: its own networks and its own train_step."""

    optimizer_names = ("generator", "discriminator")

    def __init__(self, image_size=8, channels=1, latent_dim=4, width=16, seed=0, **kwargs):
        super().__init__(trackers=("d_loss", "g_loss"), seed=seed, **kwargs)
        self.image_size, self.channels, self.latent_dim, self.width = (
            image_size,
            channels,
            latent_dim,
            width,
        )
        pixels = image_size * image_size * channels
        self.generator = keras.Sequential(
            [
                keras.Input((latent_dim,), name="latent"),
                layers.Dense(width, activation="relu"),
                layers.Dense(pixels, activation="tanh", dtype="float32"),
                layers.Reshape((image_size, image_size, channels)),
            ],
            name="toy_generator",
        )
        self.discriminator = keras.Sequential(
            [
                keras.Input((image_size, image_size, channels)),
                layers.Flatten(),
                layers.Dense(width, activation="relu"),
                layers.Dense(1, dtype="float32"),
            ],
            name="toy_critic",
        )
        self.build_now(np.zeros((1, latent_dim), np.float32))

    def call(self, latents, training=False):
        return self.generator(latents, training=training)

    def get_config(self):
        return {
            **super().get_config(),
            "image_size": self.image_size,
            "channels": self.channels,
            "latent_dim": self.latent_dim,
            "width": self.width,
        }

    @property
    def latent_shape(self):
        return (self.latent_dim,)

    def sample_from_latents(self, latents, labels=None):
        return self.generator(latents, training=False)

    def default_optimizers(self):
        return {name: keras.optimizers.Adam(1e-3) for name in self.optimizer_names}

    def optimizer_variables(self, name):
        return getattr(self, name).trainable_variables

    def train_step(self, data):
        real, _ = self.unpack(data)
        z = self.noise((tf.shape(real)[0], self.latent_dim))
        with tf.GradientTape() as d_tape, tf.GradientTape() as g_tape:
            fake = self.generator(z, training=True)
            real_logits = self.discriminator(real, training=True)
            fake_logits = self.discriminator(fake, training=True)
            d_loss = losses.discriminator_loss(real_logits, fake_logits)
            g_loss = losses.generator_loss(fake_logits)
            d_scaled = self.scale_loss("discriminator", d_loss)
            g_scaled = self.scale_loss("generator", g_loss)
        self.descend("discriminator", d_tape, d_scaled, self.discriminator.trainable_variables)
        self.descend("generator", g_tape, g_scaled, self.generator.trainable_variables)
        return self.record(d_loss=d_loss, g_loss=g_loss)


TOY = ModelSpec(
    "toy",
    ToyGAN,
    "sampler",
    "a dense toy GAN defined in a test",
    image_size=8,
    epochs=2,
    sizes=(8,),
    test_config={"width": 8},
    export=lambda model: {"generator.keras": model.generator},
    inputs={"latent": "a standard normal vector, one per image"},
)


def _package_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.mark.slow
def test_a_model_defined_outside_the_package_trains_samples_and_evaluates_through_the_command_line(
    tmp_path, capsys
):
    before = _package_digest()
    registry.register(TOY)
    try:
        with pytest.raises(SystemExit):
            cli.main(["--help"])
        assert "toy" in capsys.readouterr().out
        assert cli.main(["train", "toy", "--out", str(tmp_path)]) == 0
        out = capsys.readouterr().out
        assert "training ToyGAN on" in out and "epochs 1..2" in out
        exported = tmp_path / "toy" / "generator.keras"
        record = base.read_metadata(exported)
        assert (
            record["model"] == "toy" and record["task"] == "sampler" and record["image_size"] == 8
        )
        assert record["inputs"] == {"latent": "a standard normal vector, one per image"}
        assert (tmp_path / "toy" / "checkpoints" / "ckpt-00002.npz").is_file()
        assert (
            cli.main(
                ["sample", "--model", str(exported), "--n", "4", "--out", str(tmp_path / "s.png")]
            )
            == 0
        )
        assert cli.main(["eval", "--model", str(exported), "--n", "50", "--metrics", "fid,is"]) == 0
        report = capsys.readouterr().out
        assert "Fréchet distance" in report and "samples: 50 generated, 50 real" in report
    finally:
        registry.unregister("toy")
    assert "toy" not in registry.names()
    assert _package_digest() == before  # no file of the package changed


def test_register_refuses_duplicates_and_unknown_names():
    with pytest.raises(ValueError, match="registered already"):
        registry.register(ModelSpec("dcgan", ToyGAN, "sampler", "x", export=lambda m: {}))
    with pytest.raises(ValueError, match="unknown model 'nope'; the models are cnn, dcgan"):
        registry.get("nope")
    with pytest.raises(ValueError, match="task must be one of sampler"):
        ModelSpec("x", ToyGAN, "painter", "x")
    with pytest.raises(ValueError, match="conditional_option 'labels' is not one of its options"):
        ModelSpec("x", ToyGAN, "sampler", "x", export=lambda m: {}, conditional_option="labels")
    # conditional=True on the registered spec makes it class-conditional (it built an
    # unconditional model before)
    assert registry.settings(registry.get("diffusion"), conditional=True)["num_classes"] == 10
    assert registry.settings(registry.get("diffusion"))["num_classes"] is None
    assert (
        registry.names()[:4] == ("cnn", "dcgan", "cgan", "wgan-gp")
        and len(set(registry.names())) == 18
    )


def test_exported_files_carry_their_record_and_other_kinds_are_refused_by_name(tmp_path, capsys):
    spec = registry.get("inpainter")
    model = editing.Inpainter(**spec.test_config)
    paths = registry.export(spec, model, tmp_path)
    record = base.read_metadata(paths["inpainter.keras"])
    assert (
        record["task"] == "restorer" and record["model"] == "inpainter" and record["channels"] == 1
    )
    assert set(record["inputs"]) == {"image", "mask"} and record["package_version"]
    with pytest.raises(SystemExit, match=r"is not a generator \(it is a restorer \(inpainter\)\)"):
        cli.main(["sample", "--model", str(paths["inpainter.keras"])])
    with pytest.raises(SystemExit):
        cli.main(
            [
                "enhance",
                "--model",
                str(paths["inpainter.keras"]),
                "--input",
                ".",
                "--out",
                str(tmp_path),
            ]
        )
    assert "neither a super-resolution nor a denoising network" in capsys.readouterr().err


def test_a_file_without_a_record_still_loads_with_a_notice(tmp_path, capsys):
    generator = keras.Sequential(
        [
            keras.Input((3,), name="latent"),
            layers.Dense(16, activation="tanh"),
            layers.Reshape((4, 4, 1)),
        ]
    )
    generator.save(tmp_path / "old.keras")  # as Keras, or the package before the record, wrote it
    assert base.read_metadata(tmp_path / "old.keras") is None
    assert (
        cli.main(
            [
                "sample",
                "--model",
                str(tmp_path / "old.keras"),
                "--n",
                "4",
                "--out",
                str(tmp_path / "s.png"),
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no aigc_keras metadata record" in err and "inferred" in err


def test_making_and_compiling_every_model_leaves_the_global_policy_alone(monkeypatch, policy):
    """On a CPU with bfloat16 instructions (made so here, whatever this machine has) the hardware
    defaults differ between models; each registered model is built and compiled under its own
    default, and Keras' global policy stays float32 throughout (a layer made afterwards is
    float32)."""
    from aigc_keras import hardware

    policy("auto")
    monkeypatch.setattr(hardware, "gpus", lambda: [])
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    monkeypatch.setitem(hardware._state, "cpu_flags", frozenset({"avx512f", "avx512_bf16"}))
    seen = set()
    for spec in registry.specs():
        model = spec.model_class(**spec.test_config)
        spec.compile(model, jit_compile=False, total_steps=10)
        assert keras.config.dtype_policy().name == "float32", spec.name
        assert model.dtype_policy.name == hardware.default_precision(spec.model_class), spec.name
        seen.add(model.dtype_policy.name)
    assert seen == {
        "float32",
        "mixed_bfloat16",
    }  # both kinds of default were made, one after another
    assert layers.Dense(2).dtype_policy.name == "float32"
