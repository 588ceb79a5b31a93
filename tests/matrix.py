"""The standard model test matrix (docs/design.md), as helpers every model's tests call.

The models come from the registry (:func:`kinds`): each spec's ``test_config`` is the small
configuration built here.  ``make`` builds a fresh compiled model (same initial weights every
call); ``batches`` is a small ``tf.data`` pipeline in a fixed order.
"""

import keras
import numpy as np
import tensorflow as tf

from aigc_keras import registry
from aigc_keras.callbacks import Checkpoint


def small(spec):
    """``make(**overrides)``: the spec's model at its small test configuration."""
    return lambda **kw: spec.model_class(**{**spec.test_config, **kw})


def kinds(module: str, *, n: int = 6, labels=(0, 3, 9), seed: int = 3) -> dict:
    """The registered models of ``aigc_keras.models.<module>``: name -> (make, generate()
    kwargs)."""
    specs = [
        s for s in registry.specs() if s.model_class.__module__ == f"aigc_keras.models.{module}"
    ]
    assert specs, f"no registered model in aigc_keras.models.{module}"
    return {
        s.name: (
            small(s),
            {"labels": list(labels), "seed": seed} if s.conditional else {"n": n, "seed": seed},
        )
        for s in specs
    }


def check_policies(model, policy_name=None):
    """The model runs under its own policy (``policy_name`` if given); Keras' global policy is
    untouched (float32, or the one a test chose); every layer follows the model's policy unless it
    pins float32 (outputs, logits); under mixed_float16 every optimizer scales its loss."""
    name = model.dtype_policy.name
    if policy_name is not None:
        assert name == policy_name
        assert keras.config.dtype_policy().name == policy_name  # the test's own choice
    else:
        assert keras.config.dtype_policy().name == "float32", keras.config.dtype_policy().name
    for layer in model._flatten_layers(include_self=False):
        assert layer.dtype_policy.name in (name, "float32"), (layer.path, layer.dtype_policy.name)
    weighted = [layer for layer in model._flatten_layers(include_self=False) if layer.weights]
    own = [layer for layer in weighted if layer.dtype_policy.name == name]
    assert len(own) >= len(weighted) / 2, (name, [(w.path, w.dtype_policy.name) for w in weighted])
    if name == "mixed_float16":
        assert all(
            isinstance(o, keras.optimizers.LossScaleOptimizer) for o in model.optimizers.values()
        )


def fresh(make):
    keras.utils.set_random_seed(0)  # same initial weights for every model a test builds
    model = make()
    model.compile()
    return model


def check_finite_epoch(make, batches, steps):
    """One epoch in float32 (chosen by the user: the mixed policies have their own epoch, and the
    hardware defaults are what the quality trainings run under)."""
    from aigc_keras import hardware

    with hardware.precision_scope("float32"):
        model = fresh(make)
        logs = model.fit(batches, epochs=1, verbose=0).history
        check_policies(model, "float32")
    # a model trained in phases (LatentDiffusion) reports its last phase's trackers
    reported = (
        set(model.phase_trackers(model.phase))
        if hasattr(model, "phase_trackers")
        else set(model.trackers)
    )
    assert set(logs) == reported, f"returned {set(logs)}, trackers {reported}"
    assert all(np.isfinite(v[-1]) for v in logs.values()), logs
    assert int(model.steps_done.numpy()) == steps
    val = model.evaluate(batches, verbose=0, return_dict=True)
    assert set(val) == set(model.trackers) and all(np.isfinite(v) for v in val.values())
    return model


def check_resume_is_exact(make, batches, folder, sample_kwargs, sample=None):
    """A model trained one epoch and checkpointed, then trained one more in the same process,
    equals a fresh model restored from that checkpoint and trained the same second epoch: weights,
    optimizer slots, step count and samples.

    ``sample(model)`` gives the outputs compared at the end (default
    ``model.generate(**sample_kwargs)``).
    """
    sample = sample or (lambda model: model.generate(**sample_kwargs))
    continued = fresh(make)
    continued.fit(batches, epochs=1, verbose=0, callbacks=[Checkpoint(folder)])
    resumed = fresh(make)
    start = Checkpoint(folder).restore(resumed)
    assert start == 1 and int(resumed.steps_done.numpy()) == int(continued.steps_done.numpy())
    for name in resumed.optimizer_names:
        for a, b in zip(
            continued.optimizers[name].variables, resumed.optimizers[name].variables, strict=True
        ):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    for model in (continued, resumed):
        model.fit(batches, epochs=2, initial_epoch=start, verbose=0)
    assert int(resumed.steps_done.numpy()) == int(continued.steps_done.numpy()) > 0
    for a, b in zip(continued.variables, resumed.variables, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5, err_msg=a.path)
    np.testing.assert_allclose(sample(continued), sample(resumed), atol=1e-4)


def check_generator_round_trip(model, network, folder, sample_kwargs, inputs):
    """The generator network the model exports, saved and loaded, reproduces ``generate``
    exactly; ``inputs`` maps latents to its inputs."""
    path = folder / "generator.keras"
    network.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    n = len(sample_kwargs.get("labels", [])) or sample_kwargs["n"]
    latents = tf.random.stateless_normal((n, *model.latent_shape), seed=[sample_kwargs["seed"], 0])
    np.testing.assert_array_equal(
        model.generate(**sample_kwargs),
        keras.ops.convert_to_numpy(loaded(inputs(latents), training=False)),
    )


def check_mirrored_epoch(make, batches):
    from aigc_keras import hardware

    strategy = hardware.strategy("mirrored")  # one per process (see hardware.strategy)
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
    from aigc_keras import hardware

    with hardware.precision_scope(policy_name):
        model = fresh(make)
        logs = model.fit(batches, epochs=1, verbose=0).history
        check_policies(model, policy_name)
        assert all(np.isfinite(v[-1]) for v in logs.values()), logs
