"""Data for sslts: synthetic pretraining generators, pretraining sources, length policy,
and the shape-anomaly splices of the anomaly development suite."""

from sslts.data.shape_anomalies import SHAPE_ANOMALY_KINDS, make_shape_anomaly_series
from sslts.data.synthetic import CauKer, KernelSynth, SyntheticSeriesDataset

__all__ = [
    "SHAPE_ANOMALY_KINDS",
    "CauKer",
    "KernelSynth",
    "SyntheticSeriesDataset",
    "make_shape_anomaly_series",
]
