"""Figures people want to look at: anomaly scores over a series, imputed segments.

matplotlib is imported lazily inside each function.
"""

from sslts.plotting._anomaly import plot_anomaly_scores
from sslts.plotting._imputation import plot_imputation

__all__ = ["plot_anomaly_scores", "plot_imputation"]
