"""Early-warning anomaly prediction: will the *next* window hold an anomaly?

The protocol follows MTS-JEPA (Appendix B.4 of the paper): a series is cut into
non-overlapping context windows; the example for window ``t`` is the pair
``(X_t, y_{t+1})`` where ``y_{t+1}`` says whether the following (target) window
contains at least one anomalous point. Windows are split chronologically
(6:2:2 by default), a classifier is trained on features of the context windows,
its decision threshold is chosen on the validation part to maximise F1, and
window-level F1 and ROC AUC are reported on the test part.

Public API
----------
* :func:`make_prediction_windows` and :func:`chronological_split` build the
  protocol's examples;
* :class:`AnomalyPredictor` is the classifier: any scikit-learn transformer
  (``WindowStatistics``, :class:`sslts.TSPulseEmbedder`, a JEPA embedder,
  MiniRocket, a :class:`WindowScorer`...) produces the features; by default
  the frozen shipped TSPulse (averaged over channels) with the window
  statistics appended;
* :class:`WindowStatistics` (per-channel mean, std, min, max and slope) is the
  simple baseline featuriser (and part of the default encoder);
* :class:`WindowScorer` turns a point-level anomaly detector (series in, one
  score per time point out, e.g. ``sslts.anomaly.KMeansAnomalyDetector``) into
  a window-level score, which is how detection baselines enter the protocol.
"""

from sslts.prediction._features import WindowScorer, WindowStatistics
from sslts.prediction._predictor import AnomalyPredictor, best_f1_threshold
from sslts.prediction._protocol import (
    chronological_split,
    make_precursor_series,
    make_prediction_windows,
)

__all__ = [
    "AnomalyPredictor",
    "WindowScorer",
    "WindowStatistics",
    "best_f1_threshold",
    "chronological_split",
    "make_precursor_series",
    "make_prediction_windows",
]
