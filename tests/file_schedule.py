"""The order ``make test``'s files start in (``tests/conftest.py`` sorts the collected tests by
it).  A module of its own rather than part of ``conftest.py``: ``notebooks/`` has a ``conftest.py``
too, so a test that imported ``conftest`` could get that one.
"""

# `make test` runs two pytest-xdist workers that take whole files
# (`--dist loadfile --no-loadscope-reorder`) in collection order.  Sorted longest first, the quality
# trainings start at once and the short files fill in behind them; by default xdist sorted files by
# their number of tests, and the StyleGAN file (few tests, the longest training) came last and ran
# alone.  Seconds on one worker of a two-worker run (per-file sums of the fresh-clone `make test` of
# 28566b8 on 2026-12-06 on the 2-core AMD EPYC, one TensorFlow thread per worker, DCGAN probes 797 /
# 751 images/s; files under 20 s left out; the same file moved by up to 40% between two runs an hour
# apart, and only the order matters).
FILE_SECONDS = {
    "tests/test_cnn.py": 230,
    "tests/test_stylegan_quality.py": 217,
    "tests/test_benchmarks.py": 212,
    "tests/test_diffusion_quality.py": 190,
    "tests/test_gan_demo.py": 189,
    "tests/test_mnist_m_judges.py": 173,
    "tests/test_wgan_gp_quality.py": 150,
    "tests/test_vae.py": 143,
    "tests/test_cyclegan_quality.py": 141,
    "tests/test_diffusion.py": 132,
    "tests/test_fast_style_quality.py": 123,
    "tests/test_editing_quality.py": 114,
    "notebooks/04_cyclegan.ipynb": 113,
    "tests/test_pix2pix_quality.py": 112,
    "tests/test_style_quality.py": 112,
    "tests/test_reliability.py": 101,
    "tests/test_cyclegan_ablation.py": 100,
    "tests/test_editing.py": 99,
    "tests/test_cyclegan.py": 99,
    "notebooks/08_evaluation.ipynb": 90,
    "tests/test_cli.py": 88,
    "tests/test_dcgan_quality.py": 86,
    "notebooks/03_vae.ipynb": 82,
    "notebooks/10_style_and_dreams.ipynb": 75,
    "notebooks/07_image_editing.ipynb": 69,
    "tests/test_gan.py": 67,
    "notebooks/09_diffusion.ipynb": 67,
    "notebooks/05_stylegan.ipynb": 57,
    "tests/test_stylegan.py": 54,
    "notebooks/06_pixelcnn.ipynb": 52,
    "notebooks/01_cnn.ipynb": 50,
    "notebooks/02_gan.ipynb": 46,
    "tests/test_pixelcnn.py": 36,
    "tests/test_fast_style.py": 31,
    "tests/test_data.py": 27,
    "tests/test_pix2pix.py": 25,
    "tests/test_distribute.py": 22,
}


# Started first, in this order.  xdist gives each worker one file, then another whenever two or
# fewer of its queued tests are left: the demo's file holds two tests, so its worker takes the
# third file at once and runs the longest training (`make demo`'s), then the WGAN-GP's; the other
# worker runs the file whose judge test trains the chapter-1 classifier most quality tests read (the
# demo's tests ask for it after the demo's training, and find it cached: had they taken the session
# fixture `classifier`, pytest would have set it up before their module's training, and the demo's
# worker would have waited about two minutes for the other's), then the 8x8-digits judge the
# StyleGAN's quality file reads (so that the longest file loads it instead of training it), and,
# near its end, takes the MNIST-M judges' file, so that the judges train in their own file and
# before either CycleGAN quality file starts (AFTER_JUDGES).
FIRST = (
    "tests/test_gan_demo.py",
    "tests/test_cnn.py",
    "tests/test_wgan_gp_quality.py",
    "tests/test_mnist_m_judges.py",
)

# Files that read the MNIST-M judges: never among the first LATER_BY files after FIRST, whatever
# their seconds, so that the judges are cached when they start (had one started while the other
# worker still trained the judges, its worker would have waited on the judges' file lock).  With
# xdist taking files ahead of time, a file near the front of the queue can start on either worker.
AFTER_JUDGES = ("tests/test_cyclegan_quality.py", "tests/test_cyclegan_ablation.py")
LATER_BY = 6


def file_order(paths):
    """The order the test files start in: FIRST, then the longest first (FILE_SECONDS), with the
    AFTER_JUDGES files moved back to just after the first LATER_BY others if they came earlier."""
    rest = sorted((p for p in paths if p not in FIRST), key=lambda p: -FILE_SECONDS.get(p, 0))
    late = [p for p in rest[:LATER_BY] if p in AFTER_JUDGES]
    rest = [p for p in rest if p not in late]
    rest[LATER_BY:LATER_BY] = late
    return [p for p in FIRST if p in paths] + rest
