"""sslts: self-supervised time-series foundation encoders as scikit-learn estimators."""

__version__ = "0.1.0.dev0"

# Public estimators (imported after __version__, which the checkpoint cards read).
from sslts.anomaly import (  # noqa: E402
    DeepSVDDAnomalyDetector,
    KMeansAnomalyDetector,
    TSPulseAnomalyDetector,
)
from sslts.classification import TSPulseClassifier  # noqa: E402
from sslts.embedding import TSPulseEmbedder  # noqa: E402
from sslts.imputation import TSPulseImputer  # noqa: E402
from sslts.latent import JEPAEmbedder  # noqa: E402
from sslts.prediction import AnomalyPredictor  # noqa: E402
from sslts.retrieval import TSPulseRetriever  # noqa: E402
from sslts.streaming import stream_transform

__all__ = [
    "AnomalyPredictor",
    "DeepSVDDAnomalyDetector",
    "JEPAEmbedder",
    "KMeansAnomalyDetector",
    "TSPulseAnomalyDetector",
    "TSPulseClassifier",
    "TSPulseEmbedder",
    "TSPulseImputer",
    "TSPulseRetriever",
    "__version__",
    "stream_transform",
]
