import numpy as np
import pytest

from pipeline.coverage import coverage, nearest_distance, radius, random_coverage


def test_coverage_is_mean_distance_to_the_nearest_selected_document():
    vectors = np.array([[1, 0], [0, 1], [-1, 0]], dtype=np.float32)
    assert nearest_distance(vectors, np.array([0])).tolist() == pytest.approx([0.0, 1.0, 2.0])
    assert coverage(vectors, np.array([0, 2])) == pytest.approx(1 / 3)
    assert coverage(vectors, np.arange(3)) == pytest.approx(0.0)
    assert radius(vectors, np.array([0])) == pytest.approx(2.0)
    with pytest.raises(ValueError):
        coverage(vectors, np.array([], dtype=np.int64))


def test_random_baseline_improves_with_size_and_is_seeded():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(300, 6)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert random_coverage(vectors, 100, seed=1) < random_coverage(vectors, 10, seed=1)
    assert random_coverage(vectors, 10, seed=1) == random_coverage(vectors, 10, seed=1)
