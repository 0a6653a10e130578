"""Self-supervised objectives: one module per objective, each a plain callable."""

from sslts.objectives.tspulse import TSPulseLosses, TSPulseObjective

__all__ = ["TSPulseLosses", "TSPulseObjective"]
