"""Pure-torch models: no scikit-learn in here."""

from sslts.models.tspulse import TSPulse, TSPulseConfig, TSPulseOutput

__all__ = ["TSPulse", "TSPulseConfig", "TSPulseOutput"]
