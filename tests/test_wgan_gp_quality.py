"""Chapter 2's WGAN-GP on MNIST covers the ten digits and comes close to the held-out digits
(the bar and its measurements: gan_bars.py)."""

import gan_bars
import pytest


@pytest.mark.slow
def test_wgan_gp_covers_the_digits():
    gan_bars.check_covers_the_digits("wgan-gp")
