"""Data for sslts: synthetic pretraining generators, pretraining sources, length policy."""

from sslts.data.synthetic import CauKer, KernelSynth, SyntheticSeriesDataset

__all__ = ["CauKer", "KernelSynth", "SyntheticSeriesDataset"]
