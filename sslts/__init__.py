"""sslts: self-supervised time-series foundation encoders as scikit-learn estimators."""

__version__ = "0.1.0.dev0"

from sslts.embedding import TSPulseEmbedder  # noqa: E402  (after __version__)

__all__ = ["TSPulseEmbedder", "__version__"]
