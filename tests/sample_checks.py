"""Checks of conditional samples shared by the quality tests: per-class diversity against the real
digits' (a collapse to one image per class gives 0) and the distance to the nearest training
image (memorisation)."""

import numpy as np

from aigc_keras import metrics


def mean_pairwise(features) -> float:
    """The mean Euclidean distance between the rows of ``features``, each pair once."""
    d = np.sqrt(np.maximum(metrics._squared_distances(features, features), 0))
    return float(d[np.triu_indices(len(features), 1)].mean())


def diversity_ratios(fake_features, labels, real_features, real_labels, classes=10) -> list:
    """Per class: the samples' mean pairwise feature distance over the real images'."""
    return [
        mean_pairwise(fake_features[labels == c]) / mean_pairwise(real_features[real_labels == c])
        for c in range(classes)
    ]


def nearest_distance(images, pool) -> np.ndarray:
    """Per image: the pixel-space Euclidean distance to its nearest image in ``pool``."""
    flat, pool_flat = images.reshape(len(images), -1), pool.reshape(len(pool), -1)
    return np.sqrt(
        metrics._squared_distances(flat.astype(np.float64), pool_flat.astype(np.float64)).min(
            axis=1
        )
    )
