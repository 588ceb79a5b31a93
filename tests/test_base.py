"""The shared training core: strategy, mixed precision, noise, checkpoints, sampling."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from tiny_model import TinyGAN

from aigc_keras import hardware
from aigc_keras.callbacks import Checkpoint


def _dataset(digits8, batch=32, n=256):
    return tf.data.Dataset.from_tensor_slices(digits8.images[:n]).batch(batch)


def _model(**kwargs):
    keras.utils.set_random_seed(0)  # same initial weights for every model of a test
    model = TinyGAN(**kwargs)
    model.compile()
    return model


def test_model_is_built_at_construction(tmp_path):
    model = TinyGAN()
    assert model.built
    model.save_weights(tmp_path / "w.weights.h5")  # refuses unbuilt models


def test_one_epoch_float32_finite_losses(digits8):
    model = _model()
    logs = model.fit(_dataset(digits8), epochs=1, verbose=0).history
    assert set(logs) == {"d_loss", "g_loss", "noise_mean"}
    assert all(np.isfinite(v[-1]) for v in logs.values())
    assert int(model.steps_done.numpy()) == 8
    assert int(model.optimizers["generator"].iterations.numpy()) == 8


def test_mirrored_strategy_replicas_draw_different_noise(digits8):
    strategy = hardware.strategy("mirrored")
    assert strategy.num_replicas_in_sync == 2
    with strategy.scope():
        model = _model()

    @tf.function
    def draw():
        return strategy.run(lambda: model.noise((5,)))

    first = [t.numpy() for t in strategy.experimental_local_results(draw())]
    second = [t.numpy() for t in strategy.experimental_local_results(draw())]
    assert not np.allclose(first[0], first[1]), "both replicas drew the same noise"
    assert not np.allclose(first[0], second[0]), "noise repeats between steps"
    logs = model.fit(_dataset(digits8), epochs=1, verbose=0).history
    assert all(np.isfinite(v[-1]) for v in logs.values())
    assert int(model.steps_done.numpy()) == 8  # counted once per global step, not per replica


@pytest.mark.parametrize("name", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_epoch(policy, digits8, name):
    policy(name)
    model = _model()
    assert model.generator.get_layer("g_hidden").compute_dtype == name.split("_")[1]
    if name == "mixed_float16":
        assert all(
            isinstance(o, keras.optimizers.LossScaleOptimizer) for o in model.optimizers.values()
        )
    logs = model.fit(_dataset(digits8), epochs=1, verbose=0).history
    assert all(np.isfinite(v[-1]) for v in logs.values())
    assert model.generate(4, seed=1).dtype == np.float32


def test_checkpoint_resume_continues_exactly(digits8, tmp_path):
    data = _dataset(digits8)  # fixed order, so the two runs see the same batches
    straight = _model(seed=3)
    straight.fit(data, epochs=2, verbose=0)

    first = _model(seed=3)
    ckpt = Checkpoint(tmp_path)
    first.fit(data, epochs=1, verbose=0, callbacks=[ckpt])
    assert ckpt.latest().name == "ckpt-00001.npz"

    resumed = _model(seed=3)
    start = Checkpoint(tmp_path).restore(resumed)
    assert start == 1
    assert int(resumed.steps_done.numpy()) == 8
    for name in ("generator", "discriminator"):
        for a, b in zip(
            first.optimizers[name].variables, resumed.optimizers[name].variables, strict=True
        ):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(
        first.seed_generator.state.numpy(), resumed.seed_generator.state.numpy()
    )
    resumed.fit(data, epochs=2, initial_epoch=start, verbose=0)
    assert int(resumed.steps_done.numpy()) == 16
    for a, b in zip(straight.variables, resumed.variables, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_checkpoint_write_is_atomic(digits8, tmp_path, monkeypatch):
    model = _model()
    path = model.save_checkpoint(tmp_path / "ckpt.npz", epoch=1)
    before = path.read_bytes()

    def broken_savez(handle, **arrays):
        handle.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    model.fit(_dataset(digits8), epochs=1, verbose=0)
    with pytest.raises(OSError):
        model.save_checkpoint(path, epoch=2)
    assert path.read_bytes() == before
    monkeypatch.undo()
    meta = _model().load_checkpoint(path)
    assert meta["epoch"] == 1


def test_checkpoint_of_other_configuration_is_refused(tmp_path):
    path = _model(width=16).save_checkpoint(tmp_path / "c.npz", epoch=1)
    with pytest.raises(ValueError, match="width: checkpoint 16 vs model 32"):
        _model(width=32).load_checkpoint(path)
    with pytest.raises(RuntimeError, match="compile"):
        TinyGAN().load_checkpoint(path)


def test_checkpoint_keeps_newest(digits8, tmp_path):
    model = _model()
    ckpt = Checkpoint(tmp_path, keep=2)
    model.fit(_dataset(digits8, n=64), epochs=4, verbose=0, callbacks=[ckpt])
    assert [e for e, _ in ckpt.checkpoints()] == [(3, 0), (4, 0)]
    meta = json.loads(str(np.load(ckpt.latest(), allow_pickle=False)["__meta__"]))
    assert meta["epoch"] == 4 and meta["class"] == "TinyGAN"


def test_generate_round_trip_through_keras_file(digits8, tmp_path):
    model = _model()
    model.fit(_dataset(digits8), epochs=1, verbose=0)
    path = tmp_path / "generator.keras"
    model.generator.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    z = tf.random.stateless_normal((6, 4), seed=[7, 0])
    np.testing.assert_array_equal(model.generate(6, seed=7), keras.ops.convert_to_numpy(loaded(z)))
    np.testing.assert_array_equal(model.generate(6, seed=7), model.generate(6, seed=7))
    assert not np.array_equal(model.generate(6, seed=7), model.generate(6, seed=8))


def test_generate_rejects_bad_arguments():
    model = _model()
    with pytest.raises(ValueError, match="positive integer"):
        model.generate(0)
    with pytest.raises(ValueError, match="not class-conditional"):
        model.generate(labels=[1, 2])
    with pytest.raises(ValueError, match="seed"):
        model.generate(3, seed=-1)


def test_compile_checks_optimizer_names():
    model = TinyGAN()
    with pytest.raises(ValueError, match="discriminator"):
        model.compile({"generator": keras.optimizers.Adam()})
    with pytest.raises(TypeError, match="Optimizer instance"):
        model.compile({"generator": "adam", "discriminator": "adam"})
