import numpy as np

from filters.select.budget import Budget
from filters.select.cluster_balanced import balanced_order, cluster_balanced_select
from tests.filters.select.test_kcenter import blobs


def test_every_cluster_gets_an_equal_share_whatever_its_size():
    vectors, labels = blobs([400, 100, 20, 20], seed=4)
    chosen = cluster_balanced_select(vectors, Budget(docs=40), n_clusters=4, seed=0)
    assert np.bincount(labels[chosen], minlength=4).tolist() == [10, 10, 10, 10]


def test_a_small_cluster_leaves_its_share_to_the_others():
    labels = np.array([0] * 10 + [1] * 2 + [2] * 10)
    order = balanced_order(labels, seed=3)
    assert sorted(order.tolist()) == list(range(22))
    first = labels[order[:12]]
    assert np.bincount(first, minlength=3).tolist() == [5, 2, 5]


def test_within_a_cluster_the_best_quality_comes_first():
    labels = np.array([0, 0, 0, 1, 1, 1])
    quality = np.array([0.1, 0.9, 0.5, 0.3, 0.2, 0.8])
    order = balanced_order(labels, quality=quality, seed=0)
    assert sorted(order[:2].tolist()) == [1, 5]
    assert sorted(order[2:4].tolist()) == [2, 3]


def test_selection_is_seeded():
    vectors, _ = blobs([60, 60, 60], seed=5)
    a = cluster_balanced_select(vectors, Budget(docs=12), n_clusters=3, seed=9)
    b = cluster_balanced_select(vectors, Budget(docs=12), n_clusters=3, seed=9)
    assert a.tolist() == b.tolist()
    assert len(set(a.tolist())) == 12
