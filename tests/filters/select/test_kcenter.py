import numpy as np

from filters.select.budget import Budget
from filters.select.kcenter import kcenter_order, kcenter_select
from pipeline.coverage import coverage, radius, random_coverage


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def blobs(
    sizes: list[int], seed: int = 0, dim: int = 16, spread: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Tight clusters around random directions, of very unequal sizes; (vectors, cluster of each row)."""
    rng = np.random.default_rng(seed)
    centers = unit(rng.normal(size=(len(sizes), dim)))
    labels = np.repeat(np.arange(len(sizes)), sizes)
    return unit(centers[labels] + spread * rng.normal(size=(len(labels), dim))), labels


def test_kcenter_picks_one_document_from_every_cluster_even_small_ones():
    vectors, labels = blobs([500, 200, 5, 3, 2])
    chosen = kcenter_select(vectors, Budget(docs=5), seed=1)
    assert sorted(labels[chosen].tolist()) == [0, 1, 2, 3, 4]


def test_kcenter_covers_better_than_random_and_is_seeded():
    vectors = unit(np.random.default_rng(3).normal(size=(600, 8)))
    chosen = kcenter_select(vectors, Budget(docs=40), seed=7)
    assert len(set(chosen.tolist())) == 40
    assert coverage(vectors, chosen) < random_coverage(vectors, 40, seed=7)
    assert kcenter_select(vectors, Budget(docs=40), seed=7).tolist() == chosen.tolist()
    assert chosen[0] != kcenter_select(vectors, Budget(docs=40), seed=8)[0]


def test_quality_weights_prefer_good_documents_among_equally_far_ones():
    vectors, labels = blobs([50, 50], seed=2)
    weights = np.where(np.arange(100) % 50 == 17, 1.0, 0.1)
    order = kcenter_order(vectors, 3, weights=weights, seed=0)
    # after the random first center, the far cluster's best document comes next
    assert order[1] % 50 == 17
    assert labels[order[1]] != labels[order[0]]


def test_kcenter_never_repeats_a_document_when_all_are_identical():
    vectors = unit(np.ones((6, 4)))
    assert sorted(kcenter_order(vectors, 10).tolist()) == list(range(6))


def test_kcenter_respects_a_token_budget():
    vectors = unit(np.random.default_rng(0).normal(size=(100, 8)))
    lengths = np.full(100, 30)
    chosen = kcenter_select(vectors, Budget(tokens=100), lengths=lengths)
    assert len(chosen) == 3


def test_token_budget_stops_early_at_the_same_prefix_as_the_full_traversal():
    vectors = unit(np.random.default_rng(1).normal(size=(200, 8)))
    lengths = np.random.default_rng(2).integers(5, 50, size=200)
    chosen = kcenter_select(vectors, Budget(tokens=300), lengths=lengths, seed=4)
    full = Budget(tokens=300).take(kcenter_order(vectors, 200, seed=4), lengths)
    assert chosen.tolist() == full.tolist()
    assert lengths[chosen].sum() <= 300 < lengths[kcenter_order(vectors, len(chosen) + 1, seed=4)].sum()


def test_kcenter_has_a_smaller_radius_than_random_subsets():
    vectors, _ = blobs([400, 50, 10, 5, 2, 1], seed=8, spread=0.3)
    chosen = kcenter_select(vectors, Budget(docs=20), seed=0)
    rng = np.random.default_rng(0)
    randoms = [radius(vectors, rng.choice(len(vectors), 20, replace=False)) for _ in range(10)]
    assert radius(vectors, chosen) < min(randoms)
