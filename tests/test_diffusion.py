"""Chapter 9: the diffusion model and flow matching — the schedules' closed forms, the forward
process, the samplers against oracles, guidance's two ends, and the standard matrix."""

import math

import keras
import matrix
import numpy as np
import pytest
import tensorflow as tf

from aigc_keras import data
from aigc_keras.models import diffusion

SMALL = dict(image_size=16, width=8)  # two resolutions: the skips and the attention at 8x8
TRAINED = dict(image_size=8, width=8)  # one resolution: the models the tests train trace faster
# the latent model's autoencoder needs 16x16 images (a 4x4 latent); its first 2 steps train it
LATENT = dict(image_size=16, width=8, autoencoder_width=8, autoencoder_steps=2)
KINDS = {
    "diffusion": lambda **kw: diffusion.DiffusionModel(**{**TRAINED, "num_classes": 10, **kw}),
    "flow": lambda **kw: diffusion.FlowMatching(**{**TRAINED, "num_classes": 10, **kw}),
    "latent-diffusion": lambda **kw: diffusion.LatentDiffusion(
        **{**LATENT, "num_classes": 10, **kw}
    ),
}
SIZES = {"diffusion": 8, "flow": 8, "latent-diffusion": 16}
SAMPLE = {"labels": [0, 3, 9], "seed": 3, "steps": 4}


@pytest.fixture(scope="module")
def digits():
    """48 digits with labels in batches of 16, at 8x8 and at 16x16."""
    made = {}
    for size in (8, 16):
        arrays = data.load_arrays("mnist", "train", image_size=size, limit=48)
        made[size] = tf.data.Dataset.from_tensor_slices((arrays.images, arrays.labels)).batch(16)
    return made


@pytest.fixture
def small_digits(request, digits):
    """The digits at the size of the test's ``kind`` (8x8 when it has none)."""
    kind = request.node.callspec.params.get("kind") if hasattr(request.node, "callspec") else None
    return digits[SIZES.get(kind, 8)]


# --- the schedules ----------------------------------------------------------------------------


def test_linear_schedule_matches_its_closed_form():
    a = diffusion.alpha_bars("linear", 1000)
    beta_2 = 1e-4 + (0.02 - 1e-4) / 999
    assert a[0] == 1.0 and len(a) == 1001
    assert a[1] == pytest.approx(1 - 1e-4, abs=1e-15)
    assert a[2] == pytest.approx((1 - 1e-4) * (1 - beta_2), abs=1e-15)
    assert a[1000] == pytest.approx(np.prod(1 - np.linspace(1e-4, 0.02, 1000)), rel=1e-12)
    assert a[1000] < 5e-5 and np.all(np.diff(a) < 0)
    # another T keeps the same ends of the noise level: both betas scaled by 1000 / T
    assert diffusion.alpha_bars("linear", 500)[1] == pytest.approx(1 - 2e-4, abs=1e-15)


def test_cosine_schedule_matches_its_closed_form():
    a = diffusion.alpha_bars("cosine", 1000)

    def f(t):
        return math.cos((t / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2

    for t in (1, 250, 500, 900):
        assert a[t] == pytest.approx(f(t) / f(0), rel=1e-12), t
    # cos²(0.50397 π/2) / cos²(0.0079365 π/2) = 0.49378 / 0.99984: about half the variance left
    assert a[500] == pytest.approx(0.49384, abs=1e-4)
    assert 1 - a[1000] / a[999] == pytest.approx(0.999)  # the last beta is capped
    model = diffusion.DiffusionModel(**SMALL)
    signal, noise = model.signal_and_noise_rates([0, 500, 1000])
    np.testing.assert_allclose(signal**2 + noise**2, 1.0, rtol=1e-12)
    np.testing.assert_allclose(signal, np.sqrt(a[[0, 500, 1000]]), rtol=1e-12)
    with pytest.raises(ValueError, match="schedule must be one of cosine, linear, got 'cos'"):
        diffusion.DiffusionModel(**SMALL, schedule="cos")
    with pytest.raises(ValueError, match="prediction must be one of noise, velocity, got 'x0'"):
        diffusion.DiffusionModel(**SMALL, prediction="x0")


def test_the_training_targets_are_the_noise_or_the_velocity():
    images = np.full((2, 16, 16, 1), 0.5, np.float32)
    noise = np.full_like(images, -1.0)
    time = tf.constant([0.3, 0.7])  # t = 300 and 700 of 1000
    a = diffusion.alpha_bars("cosine")[[300, 700]].reshape(-1, 1, 1, 1)
    for prediction, expected in (
        ("noise", noise),
        ("velocity", np.sqrt(a) * noise - np.sqrt(1 - a) * images),
    ):
        model = diffusion.DiffusionModel(**SMALL, prediction=prediction)
        noised, target = model._noised(tf.constant(images), tf.constant(noise), time)
        np.testing.assert_allclose(
            noised.numpy(),
            np.broadcast_to(np.sqrt(a) * 0.5 - np.sqrt(1 - a), images.shape),
            rtol=1e-5,
        )
        np.testing.assert_allclose(
            target.numpy(), np.broadcast_to(expected, images.shape), rtol=1e-5
        )


def test_q_sample_has_the_forward_process_mean_and_variance():
    """x_t = sqrt(ᾱ) x_0 + sqrt(1 - ᾱ) ε: over 16,384 draws of ε its mean and variance are
    sqrt(ᾱ) x_0 and 1 - ᾱ (within five standard errors)."""
    model = diffusion.DiffusionModel(**SMALL, schedule="linear")
    t, x0 = 300, 0.6
    images = np.full((64, 16, 16, 1), x0, np.float32)
    noise = np.random.default_rng(0).normal(size=images.shape).astype(np.float32)
    draws = model.q_sample(images, t, noise).ravel()
    a = model.alpha_bar[t]
    n = draws.size
    assert abs(draws.mean() - math.sqrt(a) * x0) < 5 * math.sqrt((1 - a) / n)
    assert abs(draws.var() - (1 - a)) < 5 * (1 - a) * math.sqrt(2 / n)
    np.testing.assert_allclose(model.q_sample(images, 0, noise), images)  # t = 0: no noise yet


# --- the samplers -----------------------------------------------------------------------------


def _oracle(model, x0):
    """A stand-in network that returns the true noise of x_t for the known x_0 (or the true
    velocity sqrt(ᾱ) ε - sqrt(1 - ᾱ) x_0)."""
    alpha_bar = tf.constant(model.alpha_bar, tf.float32)
    clean = tf.constant(x0)

    def predict(x, time, labels):  # noqa: ARG001
        t = tf.cast(tf.round(time * model.timesteps), tf.int32)
        a = tf.reshape(tf.gather(alpha_bar, t), (-1, 1, 1, 1))
        x0 = clean[: tf.shape(x)[0]]
        noise = (x - tf.sqrt(a) * x0) / tf.sqrt(1.0 - a)
        return noise if model.prediction == "noise" else tf.sqrt(a) * noise - tf.sqrt(1 - a) * x0

    return predict


@pytest.mark.parametrize(
    "schedule, prediction", [("cosine", "noise"), ("linear", "noise"), ("cosine", "velocity")]
)
def test_ddim_with_the_true_noise_recovers_x0(schedule, prediction):
    x0 = np.random.default_rng(1).uniform(-1, 1, (6, 16, 16, 1)).astype(np.float32)
    model = diffusion.DiffusionModel(**SMALL, schedule=schedule, prediction=prediction)
    model._predict = _oracle(model, x0)
    for steps, eta in ((20, 0.0), (1000, 0.0), (20, 1.0)):
        images = model.generate(6, seed=2, steps=steps, eta=eta)
        assert np.abs(images - x0).max() < 1e-4, (steps, eta)
    assert len(model._samplers) == 1  # one trace served every number of steps


@pytest.mark.parametrize("prediction", ["noise", "velocity"])
def test_ddim_with_the_true_noise_follows_the_forward_marginals_part_way(prediction):
    """Part of the way down, not only at the end (whose last step returns the estimate of x_0 that
    the oracle makes exact, whatever the steps before did): from x_T = sqrt(ᾱ_T) x_0 +
    sqrt(1 - ᾱ_T) ε, seven of twenty DDIM steps reach s = times[7] at sqrt(ᾱ_s) x_0 +
    sqrt(1 - ᾱ_s) ε with eta = 0 (the same ε), and with eta = 1 at the same mean and variance
    with fresh noise mixed in."""
    rng = np.random.default_rng(3)
    x0 = rng.uniform(-1, 1, (64, 16, 16, 1)).astype(np.float32)
    eps = rng.normal(size=x0.shape).astype(np.float32)
    model = diffusion.DiffusionModel(**SMALL, prediction=prediction)
    model._predict = _oracle(model, x0)
    times, k = diffusion.ddim_times(20, model.timesteps), 7
    a_start, a_s = model.alpha_bar[times[0]], model.alpha_bar[times[k]]
    start = (np.sqrt(a_start) * x0 + np.sqrt(1 - a_start) * eps).astype(np.float32)

    def run(eta):
        return (
            model._loop(guided=False)(
                tf.constant(start),
                tf.zeros((len(x0),), tf.int32),
                tf.constant(model._schedule(20, eta=eta)[:k], tf.float32),
                tf.constant(1.0),
                tf.constant([5, 0], tf.int32),
            )
            .numpy()
            .astype(np.float64)
        )

    expected = np.sqrt(a_s) * x0 + np.sqrt(1 - a_s) * eps
    # 1e-3: the first step's x̂_0 = (x - sqrt(1 - ᾱ) ε̂) / sqrt(ᾱ) divides float32 round-off by
    # sqrt(ᾱ_T) = 5e-5 (measured: at most 1.8e-4 off); a wrong step would be off by tenths
    np.testing.assert_allclose(run(0.0), expected, atol=1e-3)
    residual = (run(1.0) - np.sqrt(a_s) * x0) / np.sqrt(1 - a_s)  # 16,384 values
    assert abs(residual.mean()) < 0.03 and abs(residual.std() - 1.0) < 0.03
    assert np.corrcoef(residual.ravel(), eps.ravel())[0, 1] < 0.9  # not the same ε


def test_ddim_steps_and_eta_are_checked():
    model = diffusion.DiffusionModel(**SMALL, timesteps=50)
    assert list(diffusion.ddim_times(4, 50)) == [50, 38, 25, 12, 0]
    for steps, message in (
        (0, "steps must be a positive integer, got 0"),
        (51, "at most the model's 50"),
    ):
        with pytest.raises(ValueError, match=message):
            model.generate(2, steps=steps)
    with pytest.raises(ValueError, match="eta must be a finite number >= 0"):
        model.generate(2, eta=-0.5)
    model = diffusion.DiffusionModel(**SMALL)
    a = model.generate(3, seed=4, steps=5, eta=1.0)
    np.testing.assert_array_equal(a, model.generate(3, seed=4, steps=5, eta=1.0))  # seeded
    assert not np.allclose(model.generate(3, steps=5, eta=1.0), model.generate(3, steps=5, eta=1.0))


def test_flow_matching_target_and_sampling_on_two_bumps():
    """The training pair is (t x + (1 - t) ε, x - ε).  For data at ±0.8 + N(0, 0.05²) (each pixel
    a fair coin) the best velocity is E[x - ε | x_t], in closed form per bump (x and x_t are
    jointly Gaussian) weighted by each bump's posterior; integrating it carries standard normal
    noise to the data: half each way, 0.8 from zero on average with a spread of 0.05."""
    model = diffusion.FlowMatching(**SMALL)
    x = np.full((2, 16, 16, 1), 0.5, np.float32)
    eps = np.full_like(x, -1.0)
    noised, target = model._noised(tf.constant(x), tf.constant(eps), tf.constant([0.25, 1.0]))
    np.testing.assert_allclose(noised.numpy()[0], 0.25 * 0.5 - 0.75, rtol=1e-6)
    np.testing.assert_allclose(noised.numpy()[1], 0.5, rtol=1e-6)  # t = 1: the data
    np.testing.assert_allclose(target.numpy(), 1.5, rtol=1e-6)
    sigma = 0.05

    def best_velocity(x, time, labels):  # noqa: ARG001
        t = tf.reshape(time, (-1, 1, 1, 1))
        variance = (t * sigma) ** 2 + (1.0 - t) ** 2  # of x_t given the bump
        logits, velocities = [], []
        for mu in (0.8, -0.8):
            logits.append(-((x - t * mu) ** 2) / (2.0 * variance))
            velocities.append(mu + (t * sigma**2 - (1.0 - t)) / variance * (x - t * mu))
        first = tf.sigmoid(logits[0] - logits[1])
        return first * velocities[0] + (1.0 - first) * velocities[1]

    model._predict = best_velocity
    for method, steps in (("euler", 200), ("heun", 40)):
        images = model.generate(32, seed=5, steps=steps, method=method).ravel()
        distance = np.abs(images) - 0.8
        assert abs(np.mean(images > 0) - 0.5) < 0.03, method
        assert abs(distance.mean()) < 0.005 and abs(distance.std() - sigma) < 0.005, (
            method,
            distance.mean(),
            distance.std(),
        )
    with pytest.raises(ValueError, match="method must be one of euler, heun, got 'rk4'"):
        model.generate(2, method="rk4")


# --- guidance ---------------------------------------------------------------------------------


def test_guidance_zero_is_unconditional_and_one_is_conditional():
    """w = 0 never looks at the labels; w = 1 uses them; both equal the guided formula
    ε_∅ + w (ε_c - ε_∅) evaluated on the doubled batch (to float rounding), and w = 3 moves further
    from the unconditional samples than w = 1 does."""
    keras.utils.set_random_seed(0)
    model = KINDS["diffusion"]()
    for v in model.network_ema.weights:  # an untrained network whose labels matter
        v.assign(v.numpy() + np.random.default_rng(0).normal(0, 0.05, v.shape))
    labels = [0, 3, 9, 3]
    common = dict(seed=6, steps=5)
    unconditional = model.generate(labels=labels, guidance=0, **common)
    np.testing.assert_array_equal(
        unconditional, model.generate(labels=[1, 1, 1, 1], guidance=0, **common)
    )
    np.testing.assert_array_equal(unconditional, model.generate(4, guidance=0, **common))
    conditional = model.generate(labels=labels, guidance=1, **common)
    np.testing.assert_array_equal(conditional, model.generate(labels=labels, **common))
    assert np.abs(conditional - unconditional).max() > 1e-3

    guided_loop = model._loop(guided=True)
    schedule = tf.constant(model._schedule(5), tf.float32)
    noise = tf.random.stateless_normal((4, 8, 8, 1), seed=tf.constant([6, 0], tf.int64))

    def guided(w):
        x = guided_loop(
            noise,
            tf.constant(labels, tf.int32),
            schedule,
            tf.constant(w, tf.float32),
            tf.random.experimental.stateless_fold_in(tf.constant([6, 0], tf.int64), 1),
        )
        return np.clip(x.numpy(), -1, 1)

    # the guided prediction against its formula, from two separate network calls
    x = tf.random.stateless_normal((4, 8, 8, 1), seed=tf.constant([7, 0], tf.int64))
    time, asked = tf.fill((4,), 0.5), tf.constant(labels, tf.int32)
    eps_c = model._predict(x, time, asked).numpy()
    eps_u = model._predict(x, time, tf.fill((4,), model.null_label)).numpy()
    np.testing.assert_allclose(
        model._guided(x, time, asked, 3.0).numpy(), eps_u + 3.0 * (eps_c - eps_u), atol=1e-5
    )
    assert np.abs(eps_c - eps_u).max() > 1e-3  # the labels matter to this network

    np.testing.assert_allclose(guided(0.0), unconditional, atol=1e-5)
    np.testing.assert_allclose(guided(1.0), conditional, atol=1e-5)
    strong = model.generate(labels=labels, guidance=3, **common)
    np.testing.assert_allclose(strong, guided(3.0), atol=1e-5)
    # a NumPy number (what arithmetic on arrays gives) is a weight like any other
    np.testing.assert_allclose(
        model.generate(labels=labels, guidance=np.float32(3), **common), strong
    )
    assert np.abs(strong - unconditional).mean() > np.abs(conditional - unconditional).mean()


def test_bad_sampling_requests_are_refused_with_what_is_accepted():
    conditional, unconditional = KINDS["diffusion"](), diffusion.DiffusionModel(**SMALL)
    cases = [
        (
            lambda: conditional.generate(labels=[1], guidance=-1),
            "guidance must be a finite number >= 0",
        ),
        (
            lambda: conditional.generate(labels=[1], guidance=True),
            "guidance must be a finite number >= 0",
        ),
        (
            lambda: conditional.generate(labels=[1], guidance="3"),
            "guidance must be a finite number >= 0",
        ),
        (lambda: conditional.generate(labels=[10]), r"labels must be in 0\.\.9"),
        (lambda: conditional.generate(4), "pass labels=.*or guidance=0"),
        (lambda: unconditional.generate(labels=[1]), "not class-conditional"),
        (lambda: unconditional.generate(2, guidance=2), "guidance needs a class-conditional"),
        (
            lambda: KINDS["flow"](label_dropout=0).generate(labels=[1], guidance=2),
            "trained without label dropout",
        ),
        (
            lambda: unconditional.generate(2, method="heun"),
            "DiffusionModel.generate has no option 'method'; its sampler takes eta=",
        ),
        (
            lambda: KINDS["flow"]().generate(labels=[1], eta=1.0),
            "FlowMatching.generate has no option 'eta'; its sampler takes method=",
        ),
        (
            lambda: KINDS["flow"]().generate(labels=[1], steps=0),
            "steps must be a positive integer, got 0",
        ),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    KINDS["flow"](label_dropout=0).generate(labels=[1], guidance=1, steps=2)  # allowed
    with pytest.raises(ValueError, match="noise contains NaN or infinite values"):
        unconditional.generate(2, noise=np.full((2, 16, 16, 1), np.nan, np.float32))


def test_model_settings_that_cannot_work_are_refused():
    # with T <= 20 the linear schedule's β reaches 1: ᾱ falls to 0 and below, and sampling gave NaN
    with pytest.raises(ValueError, match="the linear schedule needs timesteps >= 21, got 20"):
        diffusion.DiffusionModel(**SMALL, schedule="linear", timesteps=20)
    assert diffusion.alpha_bars("linear", 21)[-1] > 0
    with pytest.raises(ValueError, match="width must be an even number, got 9"):
        diffusion.DiffusionModel(image_size=16, width=9)
    with pytest.raises(ValueError, match="learning_rate must be a finite number > 0, got 0"):
        diffusion.FlowMatching(**SMALL, learning_rate=0)
    with pytest.raises(ValueError, match="autoencoder_learning_rate must be a finite number > 0"):
        diffusion.LatentDiffusion(autoencoder_learning_rate=float("inf"))


def test_training_drops_labels_at_the_given_rate():
    model = KINDS["diffusion"](label_dropout=0.25)
    seen = model._training_labels(tf.fill((4000,), 7), 4000).numpy()
    assert set(np.unique(seen)) == {7, 10}  # 10: the "no class" entry
    assert abs(np.mean(seen == 10) - 0.25) < 4 * math.sqrt(0.25 * 0.75 / 4000)


# --- the standard matrix ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
def test_finite_losses_and_validation(kind, small_digits):
    matrix.check_finite_epoch(KINDS[kind], small_digits, steps=3)


@pytest.mark.parametrize("kind", list(KINDS))
def test_checkpoint_resume_is_exact_with_the_moving_average(kind, small_digits, tmp_path):
    matrix.check_resume_is_exact(KINDS[kind], small_digits, tmp_path, SAMPLE)


@pytest.mark.parametrize("kind", list(KINDS))
def test_samples_come_from_the_moving_average(kind, small_digits):
    model = matrix.fresh(lambda: KINDS[kind](ema_rampup=1.0))
    model.fit(small_digits, epochs=1, verbose=0)
    averaged = model.generate(**SAMPLE)
    model.network_ema.set_weights(model.network.get_weights())  # now the live weights
    assert not np.allclose(averaged, model.generate(**SAMPLE), atol=1e-4)


@pytest.mark.parametrize("kind", ["diffusion", "flow"])
def test_exported_network_round_trip(kind, small_digits, tmp_path):
    model = matrix.fresh(KINDS[kind])
    model.fit(small_digits.take(1), epochs=1, verbose=0)
    for v in model.network.weights:  # the live weights now differ from their average
        v.assign(v + 1.0)
    network = diffusion.export_denoiser(model)["denoiser.keras"]
    exported = network.get_weights()
    for got, average in zip(exported, model.network_ema.get_weights(), strict=True):
        np.testing.assert_array_equal(got, average)  # the average is what is exported
    assert not np.array_equal(exported[0], model.network.get_weights()[0])
    network.save(tmp_path / "denoiser.keras")
    loaded = keras.saving.load_model(tmp_path / "denoiser.keras", safe_mode=True)
    inputs = [
        np.random.default_rng(0).normal(size=(3, 8, 8, 1)).astype(np.float32),
        np.array([0.1, 0.5, 0.9], np.float32),
        np.array([0, 10, 4], np.int32),
    ]
    np.testing.assert_array_equal(network(inputs).numpy(), loaded(inputs).numpy())


@pytest.mark.parametrize("kind", list(KINDS))
def test_mirrored_strategy_epoch(kind, small_digits):
    matrix.check_mirrored_epoch(KINDS[kind], small_digits)


@pytest.mark.parametrize("policy_name", ["mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_mixed_precision_epoch(kind, policy_name, small_digits):
    matrix.check_mixed_epoch(KINDS[kind], small_digits, policy_name)


# XLA: tests/test_benchmarks.py compiles an epoch of every registered model with jit_compile=True,
# these three included.


# --- the command line -------------------------------------------------------------------------


# --- latent diffusion -------------------------------------------------------------------------


def test_latent_diffusion_trains_its_autoencoder_first_then_only_the_unet(digits):
    small_digits = digits[16]
    model = matrix.fresh(lambda: KINDS["latent-diffusion"](autoencoder_steps=2))
    images = np.concatenate([x.numpy() for x, _ in small_digits.take(1)])
    assert model.latent_shape == (4, 4, 4) and float(model.latent_scale.numpy()) == 0.0
    model.fit(small_digits.take(2), epochs=1, verbose=0)  # two autoencoder steps
    assert model.phase == "diffusion"
    assert int(model.optimizers["autoencoder"].iterations.numpy()) == 2
    assert int(model.optimizers["denoiser"].iterations.numpy()) == 0
    trained = [w.copy() for w in model.autoencoder.get_weights()]
    unet = [w.copy() for w in model.network.get_weights()]
    model.fit(small_digits.take(2), epochs=1, verbose=0)  # two diffusion steps
    assert int(model.optimizers["autoencoder"].iterations.numpy()) == 2
    assert int(model.optimizers["denoiser"].iterations.numpy()) == 2
    for before, after in zip(trained, model.autoencoder.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)  # frozen
    live = model.network.get_weights()
    assert any(not np.array_equal(b, a) for b, a in zip(unet, live, strict=True))
    # the scale makes the first diffusion batch's latents unit-variance: about 1 on others
    mean, log_var = model.autoencoder.encode((images + 1) / 2)  # it sees [0, 1]
    latents = mean + np.exp(0.5 * log_var) * np.random.default_rng(0).normal(size=mean.shape)
    assert 0.7 < float(model.latent_scale.numpy()) * latents.std() < 1.4
    drawn = model.generate(**SAMPLE)
    assert drawn.shape == (3, 16, 16, 1) and np.isfinite(drawn).all() and drawn.std() > 0
