"""Chapter 2's unconditional quality bar, shared by the DCGAN and WGAN-GP test files (one file per
model: xdist gives each file to one worker, and one file with both trainings was the longest of the
suite): class entropy of 1,000 samples and their domain FID as a fraction of the untrained
generator's."""

import keras
import numpy as np

from aigc_keras import data, hardware, judges, metrics
from aigc_keras.models import gan

# --- quality bars on MNIST at 28x28 (offline: the 4,000 training digits of mnist_5k) -----------

STEPS = {"dcgan": 2000, "wgan-gp": 800}
WIDTH = 32  # the networks' base width (the chapter's is 64)
# Domain Fréchet distance bars as a fraction of the untrained generator's: the scale of the
# classifier's features (and so of every FID) changes from one trained classifier to the next, the
# ratio much less.  Measured on the 2-core CPU (2026-12-02) at data seeds 0 / 1, class entropy and
# FID ratio of 1,000 samples from the generator's moving average: width 32, DCGAN at 2,000 steps
# 2.124 / 2.203 and 0.200 / 0.175, WGAN-GP at 800 generator steps 2.173 / 2.159 and 0.246 / 0.242.
# Each FID bar: the highest measured ratio plus 10%, to two decimals.  Width 32 trains the same
# step in 35-40% of width 64's time on this CPU, so it affords the extra steps and the tests
# end sooner: width 64 took 263 s for the DCGAN's 1,500 steps (2.222 / 2.235, 0.169 / 0.152) and
# 251-269 s for the WGAN-GP's 400 (2.090 / 2.131, 0.258 / 0.259), against 143 s and 178 s at
# width 32 (two trainings sharing the two cores each time).  At width 32 the class entropy stays
# below 0.9 ln 10 = 2.072 at 1,500 DCGAN steps (2.065, seed 0, live generator) and at 600 WGAN-GP
# steps (2.059, seed 1).
FID_BAR = {"dcgan": 0.22, "wgan-gp": 0.27}


def _train(kind, steps):
    keras.utils.set_random_seed(0)
    model = {"dcgan": gan.DCGAN, "wgan-gp": gan.WGANGP}[kind](width=WIDTH)
    model.compile(jit_compile=hardware.jit_compile(model, quick=False))  # as a standard run
    dataset = data.load(
        "mnist", image_size=28, batch_size=64, repeat=True, drop_remainder=True, seed=0
    )
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    return model


def _histogram_entropy_and_fid(model, classifier, test):
    images = model.generate(1000, seed=12)
    predicted = classifier.predict_proba(images).argmax(1)
    freq = np.bincount(predicted, minlength=10) / len(predicted)
    entropy = float(-np.sum(freq[freq > 0] * np.log(freq[freq > 0])))
    extractor = judges.ClassifierExtractor(classifier)
    fid = metrics.frechet_distance(
        extractor.features(test.images), extractor.features(images[: len(test)])
    )
    return entropy, fid


def check_covers_the_digits(kind, classifier):
    """Train ``kind`` for its :data:`STEPS` and assert the entropy and FID-ratio bars."""
    test = data.load_arrays("mnist", "test", image_size=28)
    keras.utils.set_random_seed(0)
    untrained = {"dcgan": gan.DCGAN, "wgan-gp": gan.WGANGP}[kind](width=WIDTH)
    _, fid_untrained = _histogram_entropy_and_fid(untrained, classifier, test)
    entropy, fid = _histogram_entropy_and_fid(_train(kind, STEPS[kind]), classifier, test)
    print(
        f"\n{kind} width {WIDTH}, {STEPS[kind]} generator steps: class entropy {entropy:.3f} "
        f"(bar {0.9 * np.log(10):.3f}); domain FID {fid:.1f}, untrained {fid_untrained:.1f}: "
        f"ratio {fid / fid_untrained:.3f} (bar {FID_BAR[kind]})"
    )
    assert entropy >= 0.9 * np.log(10)
    assert fid <= FID_BAR[kind] * fid_untrained
