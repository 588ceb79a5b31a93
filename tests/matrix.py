"""The standard model test matrix of DESIGN.md, as helpers every model's tests call.

``make`` builds a fresh compiled model (same initial weights every call); ``batches`` is a
small ``tf.data`` pipeline in a fixed order.
"""

import keras
import numpy as np
import tensorflow as tf

from aigc_keras.callbacks import Checkpoint


def fresh(make):
    keras.utils.set_random_seed(0)  # same initial weights for every model a test builds
    model = make()
    model.compile()
    return model


def check_finite_epoch(make, batches, steps):
    model = fresh(make)
    logs = model.fit(batches, epochs=1, verbose=0).history
    assert set(logs) == {t for t in model.trackers}, f"returned {set(logs)}, trackers {set(model.trackers)}"
    assert all(np.isfinite(v[-1]) for v in logs.values()), logs
    assert int(model.steps_done.numpy()) == steps
    val = model.evaluate(batches, verbose=0, return_dict=True)
    assert set(val) == set(logs) and all(np.isfinite(v) for v in val.values())
    return model


def check_resume_is_exact(make, batches, folder, sample_kwargs, sample=None):
    """Two epochs straight equal one epoch, a checkpoint, a fresh model restored and one more epoch.

    ``sample(model)`` gives the outputs compared at the end (default ``model.generate(**sample_kwargs)``).
    """
    sample = sample or (lambda model: model.generate(**sample_kwargs))
    straight = fresh(make)
    straight.fit(batches, epochs=2, verbose=0)
    first = fresh(make)
    first.fit(batches, epochs=1, verbose=0, callbacks=[Checkpoint(folder)])
    resumed = fresh(make)
    start = Checkpoint(folder).restore(resumed)
    assert start == 1 and int(resumed.steps_done.numpy()) == int(first.steps_done.numpy())
    for name in resumed.optimizer_names:
        for a, b in zip(first.optimizers[name].variables, resumed.optimizers[name].variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    resumed.fit(batches, epochs=2, initial_epoch=start, verbose=0)
    for a, b in zip(straight.variables, resumed.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5, err_msg=a.path)
    np.testing.assert_allclose(sample(straight), sample(resumed), atol=1e-4)


def check_generator_round_trip(model, folder, sample_kwargs, inputs):
    """The saved generator reproduces ``generate`` exactly; ``inputs`` maps latents to its inputs."""
    path = folder / "generator.keras"
    model.generator.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    n = len(sample_kwargs.get("labels", [])) or sample_kwargs["n"]
    latents = tf.random.stateless_normal((n, *model.latent_shape), seed=[sample_kwargs["seed"], 0])
    np.testing.assert_array_equal(model.generate(**sample_kwargs),
                                  keras.ops.convert_to_numpy(loaded(inputs(latents), training=False)))


def check_mirrored_epoch(make, batches):
    from aigc_keras import config

    strategy = config.strategy("mirrored")  # one per process (see config.strategy)
    assert strategy.num_replicas_in_sync == 2
    with strategy.scope():
        model = fresh(make)

    @tf.function
    def draw():
        return strategy.run(lambda: model.noise((4,)))

    local = [t.numpy() for t in strategy.experimental_local_results(draw())]
    assert not np.allclose(local[0], local[1]), "both replicas drew the same noise"
    logs = model.fit(batches, epochs=1, verbose=0).history
    assert all(np.isfinite(v[-1]) for v in logs.values()), logs


def check_mixed_epoch(make, batches, policy_name):
    from aigc_keras import config

    with config.precision_scope(policy_name):
        model = fresh(make)
        assert model.dtype_policy.name == policy_name
        if policy_name == "mixed_float16":
            assert all(isinstance(o, keras.optimizers.LossScaleOptimizer) for o in model.optimizers.values())
        logs = model.fit(batches, epochs=1, verbose=0).history
        assert all(np.isfinite(v[-1]) for v in logs.values()), logs
