"""aigc_keras: learn image generation with Keras 3 (TensorFlow backend).

Chapters: CNN, GANs (DCGAN, conditional, WGAN-GP), VAEs, CycleGAN, StyleGAN, PixelCNN, image
editing and evaluation.  Heavy modules (TensorFlow) are imported by the submodules, so
``import aigc_keras`` stays cheap.
"""

from importlib.metadata import PackageNotFoundError, version

try:  # pyproject.toml holds the version; pip records it in the installed package's metadata
    __version__ = version("aigc_keras")
except PackageNotFoundError:  # a source tree on sys.path that pip has not installed
    __version__ = "0+unknown"

from . import config  # noqa: E402 (after __version__, which models/base.py writes into every export)

__all__ = ["config", "__version__"]
