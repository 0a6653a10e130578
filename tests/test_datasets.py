"""Anomaly loaders on a tiny data folder written in the shared data's formats."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sslts.data.datasets import (
    list_anomaly_series,
    load_anomaly_series,
    load_smap_msl,
)


@pytest.fixture
def anomaly_dir(tmp_path, monkeypatch):
    root = tmp_path / "anomaly"
    # TSB-AD: header, last column Label, tr_<k> in the name
    for track, n_cols in (("TSB-AD-U", 1), ("TSB-AD-M", 3)):
        folder = root / "TSB-AD" / track
        folder.mkdir(parents=True)
        values = np.arange(20 * n_cols, dtype=float).reshape(20, n_cols)
        labels = np.zeros(20, dtype=int)
        labels[12:15] = 1
        header = ",".join(["Data"] if n_cols == 1 else [str(i) for i in range(n_cols)])
        rows = [",".join([*map(str, v), str(lab)]) for v, lab in zip(values, labels)]
        name = "001_Toy_id_1_Test_tr_8_1st_12.csv"
        (folder / name).write_text("\n".join([f"{header},Label", *rows]) + "\n")
    # NAB: timestamp,value csv plus windows keyed by "<category>/<file>.csv"
    nab = root / "NAB" / "data" / "realToy"
    nab.mkdir(parents=True)
    stamps = [f"2014-01-01 {h:02d}:00:00" for h in range(20)]
    nab.joinpath("toy.csv").write_text(
        "timestamp,value\n" + "\n".join(f"{s},{i}" for i, s in enumerate(stamps)) + "\n"
    )
    nab.joinpath("quiet.csv").write_text("timestamp,value\n" + f"{stamps[0]},1\n")
    labels_dir = root / "NAB" / "labels"
    labels_dir.mkdir()
    windows = {
        "realToy/toy.csv": [
            ["2014-01-01 04:00:00.000000", "2014-01-01 06:00:00.000000"]
        ],
        "realToy/quiet.csv": [],
    }
    labels_dir.joinpath("combined_windows.json").write_text(json.dumps(windows))
    # SMAP/MSL: npy arrays and labeled_anomalies.csv with inclusive ranges
    for split, n in (("train", 10), ("test", 30)):
        (root / "SMAP_MSL" / split).mkdir(parents=True)
        for chan in ("A-1", "C-1"):
            array = np.zeros((n, 4))
            array[:, 0] = np.arange(n)
            np.save(root / "SMAP_MSL" / split / f"{chan}.npy", array)
    root.joinpath("SMAP_MSL", "labeled_anomalies.csv").write_text(
        "chan_id,spacecraft,anomaly_sequences,class,num_values\n"
        'A-1,SMAP,"[[1, 2], [20, 22]]","[point, point]",30\n'
        'C-1,MSL,"[[5, 9]]",[contextual],30\n'
        'Z-9,MSL,"[[1, 2]]",[point],30\n'
    )
    monkeypatch.setenv("SSLTS_DATA_DIR", str(tmp_path))
    return root


def test_list_anomaly_series(anomaly_dir):
    keys = list_anomaly_series()
    assert keys == [
        "TSB-AD-U/001_Toy_id_1_Test_tr_8_1st_12",
        "TSB-AD-M/001_Toy_id_1_Test_tr_8_1st_12",
        "NAB/realToy/quiet",
        "NAB/realToy/toy",
        "SMAP/A-1",
        "MSL/C-1",  # Z-9 is listed in the csv but has no arrays
    ]
    assert list_anomaly_series("MSL") == ["MSL/C-1"]
    assert list_anomaly_series(["NAB"]) == ["NAB/realToy/quiet", "NAB/realToy/toy"]
    with pytest.raises(ValueError, match="unknown anomaly sources"):
        list_anomaly_series("UCR")


@pytest.mark.parametrize("track, n_channels", [("TSB-AD-U", 1), ("TSB-AD-M", 3)])
def test_load_tsbad(anomaly_dir, track, n_channels):
    series = load_anomaly_series(f"{track}/001_Toy_id_1_Test_tr_8_1st_12")
    assert series.source == track
    assert series.values.shape == (20, n_channels)
    assert series.values.dtype == np.float64
    assert series.labels.dtype == np.int64
    np.testing.assert_array_equal(np.flatnonzero(series.labels), [12, 13, 14])
    assert series.train_end == 8
    assert (
        load_anomaly_series(f"{track}/001_Toy_id_1_Test_tr_8_1st_12", 5).train_end == 5
    )


def test_load_nab(anomaly_dir):
    series = load_anomaly_series("NAB/realToy/toy")
    assert series.values.shape == (20, 1)
    np.testing.assert_array_equal(series.values[:, 0], np.arange(20))
    np.testing.assert_array_equal(np.flatnonzero(series.labels), [4, 5, 6])
    # 30% is 6 points; the first anomaly (4) still leaves >= 10%, so cut there
    assert series.train_end == 4
    capped = load_anomaly_series("NAB/realToy/toy", max_length=10)
    assert capped.values.shape == (10, 1) and capped.train_end == 3


def test_default_train_end_keeps_30_percent_when_anomaly_too_early(anomaly_dir):
    series = load_anomaly_series("SMAP/A-1")  # anomaly at 1: under 10% of 30 points
    assert series.train_end == 9
    assert series.labels[:9].sum() == 2


def test_load_smap_msl(anomaly_dir):
    chan = load_smap_msl("C-1")
    assert (chan.name, chan.spacecraft) == ("C-1", "MSL")
    assert chan.train.shape == (10, 4) and chan.test.shape == (30, 4)
    np.testing.assert_array_equal(np.flatnonzero(chan.labels), [5, 6, 7, 8, 9])
    series = load_anomaly_series("MSL/C-1")
    np.testing.assert_array_equal(series.values, chan.test)
    np.testing.assert_array_equal(series.labels, chan.labels)
    assert series.train_end == 5


def test_anomaly_loader_errors(anomaly_dir):
    with pytest.raises(ValueError, match="unknown SMAP/MSL channel"):
        load_smap_msl("X-1")
    with pytest.raises(FileNotFoundError, match="not in the data folder"):
        load_smap_msl("Z-9")
    with pytest.raises(ValueError, match="belongs to SMAP"):
        load_anomaly_series("MSL/A-1")
    with pytest.raises(ValueError, match="bad anomaly key"):
        load_anomaly_series("Yahoo/1")
    with pytest.raises(FileNotFoundError, match="no anomaly series"):
        load_anomaly_series("NAB/realToy/missing")
    with pytest.raises(ValueError, match="max_length"):
        load_anomaly_series("NAB/realToy/toy", max_length=0)


def test_missing_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SSLTS_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="SSLTS_DATA_DIR"):
        list_anomaly_series()


def test_load_ett_splits_12_4_4_months_standardised_on_train(tmp_path, monkeypatch):
    from sslts.data.datasets import load_ett

    folder = tmp_path / "forecasting" / "ETT"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    values = rng.normal(3.0, 2.0, size=(14500, 7))
    values[:, 6] = 5.0  # a constant channel: centred, not divided by zero
    rows = [f"2016-01-01 00:00:00,{','.join(map(str, row))}" for row in values]
    (folder / "ETTh1.csv").write_text("date,a,b,c,d,e,f,OT\n" + "\n".join(rows) + "\n")
    monkeypatch.setenv("SSLTS_DATA_DIR", str(tmp_path))
    train, val, test = (load_ett("ETTh1", s) for s in ("train", "val", "test"))
    assert train.shape == (8640, 7) and val.shape == test.shape == (2880, 7)
    np.testing.assert_allclose(train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(train[:, :6].std(axis=0), 1.0)
    mean, std = values[:8640, 0].mean(), values[:8640, 0].std()
    np.testing.assert_allclose(test[:, 0], (values[11520:14400, 0] - mean) / std)
    assert np.all(test[:, 6] == 0.0)
    with pytest.raises(ValueError, match="split must be one of"):
        load_ett("ETTh1", "validation")
    with pytest.raises(FileNotFoundError, match="ETTh2.csv"):
        load_ett("ETTh2", "train")
