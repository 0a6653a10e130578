"""Figures people want to look at: anomaly scores over a series, imputed segments.

matplotlib is imported lazily inside each function.
"""
