import numpy as np
import pytest
from _tiny import TINY_CHECKPOINT as TINY
from joblib import parallel_config
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from sslts import (
    AnomalyPredictor,
    KMeansAnomalyDetector,
    TSPulseClassifier,
    TSPulseEmbedder,
    stream_transform,
)
from sslts.prediction import WindowStatistics
from sslts.streaming import default_chunk_size

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BATCH = 8
CHUNK = 4 * BATCH


def _panel(n=100, channels=None, length=64, seed=0):
    rng = np.random.default_rng(seed)
    shape = (n, length) if channels is None else (n, channels, length)
    t = np.arange(length)
    return (np.sin(0.2 * t) + rng.normal(size=shape)).astype(np.float32)


@pytest.fixture(scope="module")
def emb():
    return TSPulseEmbedder(pretrained=TINY, batch_size=BATCH, device="cpu").fit(
        _panel(40, seed=1)
    )


@pytest.fixture
def npy(tmp_path):
    """A (100, 64) panel saved as .npy, and the array itself."""
    X = _panel()
    path = tmp_path / "X.npy"
    np.save(path, X)
    return path, X


def test_memmap_npy_path_and_array_equal_the_in_memory_call(emb, npy):
    path, X = npy
    expected = emb.transform(X)
    memmap = np.load(path, mmap_mode="r")
    for source in (memmap, path, str(path), X):
        Z = stream_transform(emb, source, chunk_size=CHUNK)
        assert Z.dtype == np.float32
        np.testing.assert_array_equal(Z, expected)
    # a contiguous row slice of a memmap is read from its own offset
    np.testing.assert_array_equal(
        stream_transform(emb, memmap[37:91], chunk_size=CHUNK), emb.transform(X[37:91])
    )
    # a strided view cannot be read by offset: it is sliced, same result
    np.testing.assert_array_equal(
        stream_transform(emb, memmap[::3], chunk_size=CHUNK), emb.transform(X[::3])
    )
    # copy-on-write: values changed in the mapping only are the ones used
    changed = np.load(path, mmap_mode="c")
    changed[5:60] *= 3.0
    np.testing.assert_array_equal(
        stream_transform(emb, changed, chunk_size=CHUNK),
        emb.transform(np.asarray(changed)),
    )


def test_raw_memmap_with_header_offset_and_other_dtype(emb, tmp_path):
    X = _panel(70, channels=1).astype(np.float64)
    path = tmp_path / "raw.bin"
    with open(path, "wb") as file:
        file.write(b"\x00" * 24)  # a header the memmap skips
        file.write(X.tobytes())
    memmap = np.memmap(path, dtype=np.float64, mode="r", offset=24, shape=X.shape)
    np.testing.assert_array_equal(
        stream_transform(emb, memmap, chunk_size=CHUNK), emb.transform(X)
    )


def test_iterator_of_batches_equals_the_in_memory_call(emb):
    X = _panel()
    batches = (X[start : start + CHUNK] for start in range(0, len(X), CHUNK))
    np.testing.assert_array_equal(stream_transform(emb, batches), emb.transform(X))
    # ragged batches (lists of series) are panels too
    ragged = [list(X[:10]), [x[:50] for x in X[10:20]]]
    expected = np.concatenate([emb.transform(batch) for batch in ragged])
    np.testing.assert_array_equal(stream_transform(emb, iter(ragged)), expected)


def test_out_memmap_receives_the_rows(emb, npy, tmp_path):
    path, X = npy
    expected = emb.transform(X)
    out = np.lib.format.open_memmap(
        tmp_path / "Z.npy", mode="w+", dtype=np.float32, shape=expected.shape
    )
    returned = stream_transform(emb, path, chunk_size=CHUNK, out=out)
    assert returned is out
    np.testing.assert_array_equal(out, expected)
    del out, returned
    np.testing.assert_array_equal(np.load(tmp_path / "Z.npy"), expected)
    # an in-memory out, of a dtype float32 casts to safely; and from an iterator
    out = np.zeros(expected.shape, dtype=np.float64)
    stream_transform(emb, iter([X[:50], X[50:]]), out=out)
    np.testing.assert_array_equal(out, expected)


def test_n_jobs_does_not_change_the_output(emb, npy, tmp_path):
    path, X = npy
    serial = stream_transform(emb, path, chunk_size=CHUNK)
    out = np.lib.format.open_memmap(
        tmp_path / "Z.npy", mode="w+", dtype=np.float32, shape=serial.shape
    )
    with parallel_config(backend="loky", inner_max_num_threads=1):
        parallel = stream_transform(emb, path, chunk_size=CHUNK, n_jobs=2)
        stream_transform(emb, path, chunk_size=CHUNK, n_jobs=2, out=out)
        batches = stream_transform(emb, iter([X[:60], X[60:]]), n_jobs=2)
    np.testing.assert_array_equal(parallel, serial)
    np.testing.assert_array_equal(np.load(tmp_path / "Z.npy"), serial)
    np.testing.assert_array_equal(batches, serial)


def test_transform_of_a_large_memmap_streams_by_itself(tmp_path, monkeypatch):
    X = _panel(300, channels=2)
    path = tmp_path / "X.npy"
    np.save(path, X)
    emb = TSPulseEmbedder(pretrained=TINY, batch_size=BATCH, device="cpu").fit(X[:40])
    calls = []
    original = TSPulseEmbedder._embed

    def spy(self, panel):
        calls.append(panel.n_instances)
        return original(self, panel)

    monkeypatch.setattr(TSPulseEmbedder, "_embed", spy)
    monkeypatch.setattr("sslts.streaming._MIN_CHUNK_ROWS", 64)
    assert default_chunk_size(emb) == 256
    memmap = np.load(path, mmap_mode="r")
    Z = emb.transform(memmap)
    assert calls == [256, 44]  # two chunks
    assert type(Z) is np.ndarray
    calls.clear()
    np.testing.assert_array_equal(Z, emb.transform(X))
    assert calls == [300]  # an in-memory array is not chunked


def test_default_chunk_size_is_a_multiple_of_every_batch_size():
    assert default_chunk_size(TSPulseEmbedder()) == 4096
    assert default_chunk_size(TSPulseEmbedder(batch_size=200)) == 6400
    assert (
        default_chunk_size(TSPulseEmbedder(batch_size=5000)) == 160000
    )  # lcm(5000, 256)
    pipe = Pipeline(
        [("emb", TSPulseEmbedder(batch_size=96)), ("clf", LogisticRegression())]
    )
    assert default_chunk_size(pipe) % 96 == 0 and default_chunk_size(pipe) % 256 == 0


def test_classifier_and_pipeline_predict_proba_stream(tmp_path):
    X = _panel(600)
    y = np.where(np.arange(len(X)) % 2 == 0, "a", "b")
    path = tmp_path / "X.npy"
    np.save(path, X)
    clf = TSPulseClassifier(pretrained=TINY, max_epochs=1, batch_size=8, random_state=0)
    clf.fit(X[:100], y[:100])
    memmap = np.load(path, mmap_mode="r")
    # it predicts in batches of 256 windows: chunks of 256 rows batch alike
    for method in ("predict_proba", "predict"):
        np.testing.assert_array_equal(
            stream_transform(clf, memmap, method=method, chunk_size=256),
            getattr(clf, method)(X),
        )
    emb = TSPulseEmbedder(pretrained=TINY, batch_size=BATCH)
    pipe = Pipeline([("emb", emb), ("clf", LogisticRegression())]).fit(X[:100], y[:100])
    np.testing.assert_array_equal(
        stream_transform(pipe, path, method="predict_proba", chunk_size=CHUNK),
        pipe.predict_proba(X),
    )



def test_classifier_and_predictor_methods_stream_a_large_memmap(tmp_path, monkeypatch):
    """predict_proba (and predict, decision_function built on it) of a memmap larger
    than one chunk stream by themselves and equal the in-memory call."""
    monkeypatch.setattr("sslts.streaming._MIN_CHUNK_ROWS", 64)
    clf = TSPulseClassifier(pretrained=TINY, max_epochs=1, batch_size=8, random_state=0)
    predictor = AnomalyPredictor(
        encoder=WindowStatistics(), classifier="logistic", random_state=0
    )
    for n, estimator, methods in (
        (300, clf, ("predict_proba", "predict")),
        (7000, predictor, ("predict_proba", "decision_function", "predict")),
    ):
        X = _panel(n, length=32)
        path = tmp_path / f"X{n}.npy"
        np.save(path, X)
        memmap = np.load(path, mmap_mode="r")
        estimator.fit(X[:200], np.arange(200) % 2)
        assert default_chunk_size(estimator) < n
        rows = []
        original = type(estimator)._check_X

        def counting(self, data, *, reset, original=original):
            rows.append(len(data))
            return original(self, data, reset=reset)

        monkeypatch.setattr(type(estimator), "_check_X", counting)
        for method in methods:
            rows.clear()
            out = getattr(estimator, method)(memmap)
            assert len(rows) > 1, (type(estimator).__name__, method)  # chunk by chunk
            np.testing.assert_array_equal(out, getattr(estimator, method)(X))

def test_errors(emb, npy, tmp_path):
    path, X = npy
    with pytest.raises(NotFittedError):
        stream_transform(TSPulseEmbedder(pretrained=TINY), X)
    with pytest.raises(ValueError, match="method must be one of"):
        stream_transform(emb, X, method="fit")
    with pytest.raises(
        TypeError, match="TSPulseEmbedder has no method 'predict_proba'"
    ):
        stream_transform(emb, X, method="predict_proba")
    series = np.sin(np.arange(200) / 5.0)
    detector = KMeansAnomalyDetector(n_clusters=2, random_state=0).fit(series)
    with pytest.raises(ValueError, match="cannot be streamed"):
        stream_transform(detector, series[None], method="decision_function")
    with pytest.raises(
        ValueError, match="X must be 2D .* got an array of shape \\(100,\\)"
    ):
        stream_transform(emb, X[:, 0])
    with pytest.raises(ValueError, match="X holds no series"):
        stream_transform(emb, X[:0])
    with pytest.raises(ValueError, match="X yielded no batch"):
        stream_transform(emb, iter([]))
    with pytest.raises(TypeError, match="X: a list or tuple is ambiguous"):
        stream_transform(emb, list(X))
    with pytest.raises(TypeError, match="X must be an array"):
        stream_transform(emb, 3)
    with pytest.raises(ValueError, match="X: cannot memory-map"):
        stream_transform(emb, tmp_path / "missing.npy")
    with pytest.raises(ValueError, match="chunk_size must be at least 1; got 0"):
        stream_transform(emb, X, chunk_size=0)
    with pytest.raises(TypeError, match="chunk_size must be an int"):
        stream_transform(emb, X, chunk_size=2.5)
    width = emb.transform(X[:1]).shape[1]
    with pytest.raises(
        ValueError, match="out must have one row per series of X \\(100\\)"
    ):
        stream_transform(emb, X, out=np.zeros((99, width), np.float32))
    with pytest.raises(ValueError, match=f"out must have shape \\(100, {width}\\)"):
        stream_transform(emb, X, out=np.zeros((100, width + 1), np.float32))
    with pytest.raises(ValueError, match="out must have dtype float32"):
        stream_transform(emb, X, out=np.zeros((100, width), np.float16))
    with pytest.raises(ValueError, match="out must be writeable"):
        stream_transform(emb, X, out=np.load(path, mmap_mode="r"))
    with pytest.raises(TypeError, match="out must be a numpy array"):
        stream_transform(emb, X, out=[[0.0] * width] * 100)
    with pytest.raises(ValueError, match="out has 100 rows, but X held 60 series"):
        stream_transform(emb, iter([X[:60]]), out=np.zeros((100, width), np.float32))
    with pytest.raises(ValueError, match="out has 50 rows, but X has more series"):
        stream_transform(
            emb, iter([X[:40], X[40:80]]), out=np.zeros((50, width), np.float32)
        )


def test_truncated_file_is_reported(emb, tmp_path):
    X = _panel(30)
    path = tmp_path / "raw.bin"
    X.tofile(path)
    memmap = np.memmap(path, dtype=np.float32, mode="r", shape=X.shape)
    np.testing.assert_array_equal(
        stream_transform(emb, memmap, chunk_size=CHUNK), emb.transform(X)
    )
    with open(path, "r+b") as file:  # the memmap's pages are never touched after this
        file.truncate(20 * X.shape[1] * 4)
    with pytest.raises(ValueError, match="ended before row 30"):
        stream_transform(emb, memmap, chunk_size=CHUNK)
