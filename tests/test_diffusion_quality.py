"""Chapter 9's quality bars on one training: the latent diffusion model (its VAE trained first, then
the same DiffusionModel code on the VAE's 7x7x4 latents), class-conditional with label dropout, on
the offline MNIST digits at 28x28.  It is the one diffusion model whose training fits a test's
budget: its U-Net works on 196 numbers per image instead of 784 pixels, so a step of batch 64 costs
about a seventh of the pixel model's (docs/design.md, "Diffusion and flow matching", has the pixel
models' figures, which the chapter's notebook measures)."""

import math

import keras
import numpy as np
import pytest
import sample_checks

from aigc_keras import data, hardware, judges, metrics
from aigc_keras.models import diffusion

AUTOENCODER_STEPS = 600
DIFFUSION_STEPS = 1000
WIDTH = 64
GUIDANCE = 3.0
# Measured with this file's training at data seeds 0 / 1 (2-core AMD EPYC, 2026-12-04; float32 and
# graph mode, the model's default on every CPU: bfloat16 measured 0.91x and XLA 1.14x its speed):
# the judge recognised 0.980 / 0.977 of the VAE's reconstructions; guided samples 0.977 / 0.977
# agreement, smallest per-class diversity ratio 0.54 / 0.51, 0.1% / 0.0% of samples closer to a
# training digit than 99% of the held-out digits are; unconditional class entropy 2.227 / 2.204,
# mean top-class probability 0.834 / 0.838, FID ratio to untrained samples 0.207 / 0.210 (the
# reconstructions' FID is 23.6 / 24.2, so the VAE is not what limits it); 500 unconditional samples'
# FID 216.1 / 205.9 at 20 DDIM steps against 213.5 / 202.8 at 100.
# Bars: the lowest agreement (and reconstruction share) minus one binomial standard error (0.977 -
# 0.005), the smallest diversity ratio minus 10%, the highest FID ratio plus 10% rounded up.
# Not met at this budget, so not asserted: a mean top-class probability of 0.9 for unconditional
# samples and an FID ratio of 0.1 (seed 0, 3,000 diffusion steps, a Gaussian VAE: 0.856, 0.175).
# The sampler is not what limits them (seed 0, 1,000 samples, 2026-12-05): DDIM at 20 / 50 / 100
# steps 0.834 / 0.836 / 0.837 and FID ratio 0.210 / 0.207 / 0.207; with fresh noise (eta 1) at 20
# and 100 steps 0.842 / 0.843 and 0.194 / 0.198; DDPM's full 1,000-step chain 0.849 and 0.189.  The
# unconditional branch sees a tenth of the batches (label dropout 0.1): the same model conditioned
# without guidance (w = 1) reaches 0.907.
# Ten changes to the recipe at the same budget (learning rate and its decay, Adam's beta2, min-SNR
# weights, the average's half-life, KL weight, latent channels, width, batch) gave 0.817-0.843;
# 3,000 U-Net steps 0.862 (seed 0, 2026-12-06; docs/design.md lists each).
# On a 2-core AMD EPYC with AVX2 only (no AVX-512; 2026-12-07, float32, the judge trained there),
# seed 0 in a fresh-clone `make test`: the judge recognised 0.977 of the reconstructions, guided
# samples 0.967 agreement (smallest diversity ratio 0.55, no sample closer to a training digit than
# 99% of held-out digits are); unconditional class entropy 2.168, FID ratio 0.194.  The agreement
# bar follows the rule with that lowest share: 0.967 - 0.006, rounded down to 0.96.
RECONSTRUCTION_BAR = 0.97
AGREEMENT_BAR = 0.96
DIVERSITY_BAR = 0.45
MEMORISED_BAR = 0.02  # the share of samples closer to a training digit than 99% of held-out ones
ENTROPY_BAR = 0.9 * math.log(10)
FID_FRACTION_BAR = 0.24  # of an untrained model's samples' FID


def train(seed: int = 0):
    """The test's training: ``AUTOENCODER_STEPS`` VAE steps, then ``DIFFUSION_STEPS`` U-Net steps,
    batch 64, in the model's default precision and XLA setting for this machine."""
    keras.utils.set_random_seed(seed)
    model = diffusion.LatentDiffusion(
        num_classes=10, width=WIDTH, autoencoder_steps=AUTOENCODER_STEPS, seed=seed
    )
    model.compile(jit_compile=hardware.jit_compile(model, quick=False))
    dataset = data.load(
        "mnist",
        image_size=28,
        batch_size=64,
        labels=True,
        repeat=True,
        drop_remainder=True,
        seed=seed,
    )
    model.fit(dataset, epochs=1, steps_per_epoch=AUTOENCODER_STEPS + DIFFUSION_STEPS, verbose=0)
    return model


@pytest.fixture(scope="module")
def trained():
    return train(0)


@pytest.fixture(scope="module")
def digits():
    return (
        data.load_arrays("mnist", "train", image_size=28),
        data.load_arrays("mnist", "test", image_size=28),
    )


def _fid(extractor, real, images):
    return metrics.frechet_distance(extractor.features(real), extractor.features(images))


@pytest.mark.slow
def test_the_autoencoder_keeps_the_digit(trained, classifier, digits):
    _, test = digits
    reconstructions = trained.reconstruct(test.images)
    agreement = float(np.mean(classifier.predict_proba(reconstructions).argmax(1) == test.labels))
    print(f"\nlatent diffusion's VAE: the judge recognises {agreement:.3f} of its reconstructions")
    assert agreement >= RECONSTRUCTION_BAR


@pytest.mark.slow
def test_guided_samples_show_the_digit_asked_for(trained, classifier, digits):
    train_digits, test = digits
    labels = np.repeat(np.arange(10), 100)
    images = trained.generate(labels=labels, seed=11, steps=20, guidance=GUIDANCE)
    agreement = float(np.mean(classifier.predict_proba(images).argmax(1) == labels))
    ratios = sample_checks.diversity_ratios(
        classifier.features(images),
        labels,
        classifier.features(train_digits.images),
        train_digits.labels,
    )
    generated_nn = sample_checks.nearest_distance(images, train_digits.images)
    floor = np.percentile(sample_checks.nearest_distance(test.images, train_digits.images), 1)
    close = float(np.mean(generated_nn < floor))  # 1% of held-out digits are, by construction
    print(
        f"\nlatent diffusion, guidance {GUIDANCE:g}, 20 DDIM steps: agreement {agreement:.3f}; "
        f"diversity ratio min {min(ratios):.2f} mean {np.mean(ratios):.2f}; nearest training "
        f"digit: closest sample {generated_nn.min():.2f}, {close:.1%} of the samples closer than "
        f"the held-out digits' 1st percentile {floor:.2f}"
    )
    assert agreement >= AGREEMENT_BAR
    assert min(ratios) >= DIVERSITY_BAR
    assert close <= MEMORISED_BAR


@pytest.mark.slow
def test_unconditional_samples_cover_the_digits(trained, classifier, digits):
    _, test = digits
    images = trained.generate(1000, seed=12, steps=20, guidance=0)
    probs = classifier.predict_proba(images)
    freq = np.bincount(probs.argmax(1), minlength=10) / len(probs)
    entropy = float(-np.sum(freq[freq > 0] * np.log(freq[freq > 0])))
    extractor = judges.ClassifierExtractor(classifier)
    fid = _fid(extractor, test.images, images)
    untrained = diffusion.LatentDiffusion(num_classes=10, width=WIDTH, seed=0)
    fid_untrained = _fid(extractor, test.images, untrained.generate(1000, seed=12, guidance=0))
    floor = _fid(extractor, test.images[500:], trained.reconstruct(test.images[:500]))
    print(
        f"\nlatent diffusion, unconditional (guidance 0), 20 DDIM steps: class entropy "
        f"{entropy:.3f} (bar {ENTROPY_BAR:.3f}), mean top-class probability "
        f"{probs.max(1).mean():.3f}, FID {fid:.1f} against {fid_untrained:.1f} untrained "
        f"({fid / fid_untrained:.3f}); the VAE's reconstructions of 500 held-out digits against "
        f"the other 500: {floor:.1f}"
    )
    assert entropy >= ENTROPY_BAR
    assert fid <= FID_FRACTION_BAR * fid_untrained


@pytest.mark.slow
def test_twenty_ddim_steps_are_as_good_as_a_hundred(trained, classifier, digits):
    _, test = digits
    extractor = judges.ClassifierExtractor(classifier)
    real = extractor.features(test.images)
    fids = {}
    for steps in (20, 100):
        images = trained.generate(500, seed=13, steps=steps, guidance=0)
        fids[steps] = metrics.frechet_distance(real, extractor.features(images))
        if steps == 100:
            spread = metrics.bootstrap(
                metrics.frechet_distance, real, extractor.features(images), draws=20
            ).std()
    allowed = max(1.3 * fids[100], fids[100] + 2 * spread)
    print(
        f"\nlatent diffusion, 500 unconditional samples: FID {fids[20]:.1f} at 20 DDIM steps, "
        f"{fids[100]:.1f} at 100 (resampling spread {spread:.1f}; allowed {allowed:.1f})"
    )
    assert fids[20] <= allowed
