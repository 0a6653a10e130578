"""TSPulseRetriever: nearest-neighbour semantics over series embeddings."""

import pickle

import numpy as np
import pytest
from _tiny import TINY_CHECKPOINT as TINY
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from sslts.embedding import TSPulseEmbedder
from sslts.retrieval import TSPulseRetriever


def _retriever(**params) -> TSPulseRetriever:
    return TSPulseRetriever(embedder=TSPulseEmbedder(pretrained=TINY, random_state=0), **params)


@pytest.fixture
def index(panel):
    """The conftest panel (12, 2, 80) plus a near-duplicate query of series 7."""
    rng = np.random.default_rng(1)
    query = panel[7:8] + 0.01 * rng.normal(size=panel[7:8].shape).astype(np.float32)
    return panel, query


@pytest.mark.parametrize("standardize", [True, False])
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_planted_near_duplicate_is_first(index, metric, standardize):
    panel, query = index
    retriever = _retriever(metric=metric, standardize=standardize, n_neighbors=4).fit(panel)
    distances, indices = retriever.kneighbors(query)
    assert indices.shape == distances.shape == (1, 4)
    assert indices[0, 0] == 7
    assert np.all(np.diff(distances, axis=1) >= 0)


def test_self_query_excludes_self_and_matches_explicit_query(panel):
    retriever = _retriever(n_neighbors=3).fit(panel)
    distances, indices = retriever.kneighbors()
    assert indices.shape == (12, 3)
    assert not np.any(indices == np.arange(12)[:, None])
    # querying with X explicitly finds each series itself first at distance ~0
    d_self, i_self = retriever.kneighbors(panel, n_neighbors=4)
    np.testing.assert_array_equal(i_self[:, 0], np.arange(12))
    np.testing.assert_allclose(d_self[:, 0], 0.0, atol=1e-5)
    np.testing.assert_allclose(d_self[:, 1:], distances, rtol=1e-4, atol=1e-6)


def test_return_distance_false_and_graph(panel):
    retriever = _retriever().fit(panel)
    indices = retriever.kneighbors(panel[:3], n_neighbors=2, return_distance=False)
    assert indices.shape == (3, 2)
    graph = retriever.kneighbors_graph(panel[:3], n_neighbors=2, mode="distance")
    assert graph.shape == (3, 12) and graph.nnz == 6


def test_queries_of_another_length(panel):
    retriever = _retriever(n_neighbors=2).fit(panel)
    _, indices = retriever.kneighbors(panel[:, :, :50])
    assert indices.shape == (12, 2)


def test_errors(panel):
    with pytest.raises(NotFittedError):
        _retriever().kneighbors(panel)
    retriever = _retriever().fit(panel)
    with pytest.raises(ValueError, match="n_neighbors <= n_samples_fit"):
        retriever.kneighbors(panel[:2], n_neighbors=13)
    with pytest.raises(ValueError, match="1 channel"):
        retriever.kneighbors(panel[:, :1])
    with pytest.raises(ValueError, match="metric"):
        _retriever(metric="manhattan").fit(panel)
    with pytest.raises(ValueError, match="n_neighbors"):
        _retriever(n_neighbors=0).fit(panel)
    with pytest.raises(ValueError, match="standardize"):
        _retriever(standardize="yes").fit(panel)


def test_standardised_index_has_unit_scale(panel):
    retriever = _retriever().fit(panel)
    np.testing.assert_allclose(retriever.embeddings_.mean(axis=0), 0.0, atol=1e-4)
    raw = _retriever(standardize=False).fit(panel)
    assert raw.scaler_ is None
    np.testing.assert_allclose(
        retriever.embeddings_, retriever.scaler_.transform(raw.embeddings_), rtol=1e-4, atol=1e-4
    )


def test_default_embedder_is_used_and_not_mutated(panel):
    embedder = TSPulseEmbedder(pretrained=TINY)
    retriever = TSPulseRetriever(embedder=embedder).fit(panel)
    assert not hasattr(embedder, "model_")
    assert retriever.embeddings_.shape == (12, 2 * 3 * (16 + 2 * 16 + 2))
    # embedder=None fits the default: the shipped model with averaged patch tokens
    # and one patch phase, 240 + 48 + 2 features a channel and view
    default = TSPulseRetriever().fit(panel)
    expected = TSPulseEmbedder(pooling=("mean",), patch_phases=1).get_params()
    assert default.embedder_.get_params() == expected
    assert default.embeddings_.shape == (12, 2 * 3 * (240 + 48 + 2))


def test_pickle_clone_and_nested_params(panel):
    retriever = _retriever(n_neighbors=3).fit(panel)
    restored = pickle.loads(pickle.dumps(retriever))
    for a, b in zip(restored.kneighbors(panel[:4]), retriever.kneighbors(panel[:4])):
        np.testing.assert_allclose(a, b, rtol=1e-5)
    cloned = clone(retriever).set_params(embedder__embedding="both", metric="euclidean")
    cloned.fit(panel)
    assert cloned.embeddings_.shape[1] > retriever.embeddings_.shape[1]
