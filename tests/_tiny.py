"""The tiny, fast model settings every test shares: change them here only.

Imported by the test modules as ``from _tiny import ...`` (pytest puts
``tests/`` on ``sys.path``: the folder is not a package). ``conftest.py``
builds its ``tiny_config``/``tiny_model`` fixtures from these.
"""

from __future__ import annotations

# The shipped, untrained checkpoint: context 64, d_model 8, one layer.
TINY_CHECKPOINT = "tspulse-tiny-random"

# TSPulse architecture of TINY_CHECKPOINT (test_pretrained checks they agree),
# for tests that build or pretrain a tiny model by hand.
TINY_TSPULSE = dict(
    context_length=64,
    patch_length=8,
    d_model=8,
    n_layers=1,
    n_decoder_layers=1,
    n_registers=2,
    forecast_length=8,
)

# JEPAEmbedder parameters: a tiny encoder trained for one epoch.
TINY_JEPA = dict(
    context_length=16,
    patch_length=4,
    d_model=8,
    n_layers=1,
    n_heads=2,
    codebook_size=4,
    max_epochs=1,
    batch_size=16,
)

# A tiny PatchEncoder (JEPAConfig) for the latent-objective tests: 4 patches of 8.
TINY_PATCH_ENCODER = dict(
    context_length=32, patch_length=8, d_model=16, n_layers=1, n_heads=2, dropout=0.0
)
