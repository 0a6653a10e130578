"""Anomaly detectors for one series: one score per time point (pyod conventions).

All detectors share :class:`BaseSeriesDetector`: ``fit(X)`` on a series of
shape ``(n_timepoints,)`` or ``(n_timepoints, n_channels)``,
``decision_function`` (higher = more anomalous), ``predict`` (0/1 from
``contamination``), ``predict_proba`` and per-channel scores.
"""

from sslts.anomaly._base import BaseSeriesDetector, channel_spread, estimate_period
from sslts.anomaly._baselines import DeepSVDDAnomalyDetector, KMeansAnomalyDetector
from sslts.anomaly._tspulse import TSPulseAnomalyDetector

__all__ = [
    "BaseSeriesDetector",
    "DeepSVDDAnomalyDetector",
    "KMeansAnomalyDetector",
    "TSPulseAnomalyDetector",
    "channel_spread",
    "estimate_period",
]
