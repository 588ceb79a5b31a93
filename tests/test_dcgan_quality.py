"""Chapter 2's DCGAN on MNIST covers the ten digits and comes close to the held-out digits
(the bar and its measurements: gan_bars.py)."""

import gan_bars
import pytest


@pytest.mark.slow
@pytest.mark.extended  # skipped on a slow machine: tests/file_schedule.py
def test_dcgan_covers_the_digits():
    gan_bars.check_covers_the_digits("dcgan")
