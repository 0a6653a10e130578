"""Thin sktime adapters over the sslts estimators, for sktime pipelines and benchmarks.

Each adapter mirrors the parameters of the scikit-learn-style estimator it
wraps, builds that estimator in ``fit`` and delegates to it; sktime handles
the input formats (pandas, nested, multi-index...) and hands over either a
numpy3D array or, for unequal-length panels, a list of DataFrames.

All adapters keep the ``_parent_callback_ctx`` attribute that scikit-learn
(>= 1.9) meta-estimators such as :class:`sklearn.pipeline.Pipeline` set on
their steps: sktime's ``fit`` starts with ``reset()``, which would otherwise
delete it and make the enclosing ``Pipeline.fit`` fail (see ``docs/sktime.md``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sktime.transformations.base import BaseTransformer

from sslts.embedding import TSPulseEmbedder

__all__ = ["TSPulseTransformer"]

#: Attributes set on an estimator from outside that sktime's ``reset`` must not delete.
_KEPT_ON_RESET = ("_parent_callback_ctx",)

_PACKAGING_TAGS = {
    "authors": ["sslts developers"],
    "maintainers": ["sslts developers"],
    "python_dependencies": ["torch", "skorch"],
    "capability:random_state": True,
    "property:randomness": "derandomized",
}


class _SsltsAdapterMixin:
    """Shared behaviour of the adapters: build the wrapped estimator, survive ``reset``."""

    def reset(self) -> Any:
        """Reset to the post-init state, keeping a scikit-learn parent callback context.

        Returns
        -------
        self
        """
        kept = {name: self.__dict__[name] for name in _KEPT_ON_RESET if name in self.__dict__}
        super().reset()  # type: ignore[misc]
        self.__dict__.update(kept)
        return self

    def _wrapped(self, cls: type) -> Any:
        """An unfitted ``cls`` with the adapter's parameters (they mirror ``cls``'s)."""
        return cls(**self.get_params(deep=False))  # type: ignore[attr-defined]


def _as_panel(X: Any) -> np.ndarray | list[np.ndarray]:
    """sktime inner panel (numpy3D, or df-list of ``(T, C)`` frames) -> sslts panel input."""
    if isinstance(X, np.ndarray):
        return X
    return [frame.to_numpy(dtype=np.float64).T for frame in X]


class TSPulseTransformer(_SsltsAdapterMixin, BaseTransformer):
    """sktime transformer: a panel of series in, one row of TSPulse features per series out.

    Wraps :class:`sslts.TSPulseEmbedder`; every parameter has the same meaning
    there. Multivariate series, unequal lengths and missing values are
    supported (padding and NaN are masked inside the encoder).

    Parameters
    ----------
    pretrained : str, path or None, default="default"
        Checkpoint to start from (see :class:`sslts.TSPulseEmbedder`).
    embedding : {"semantic", "detail", "both"}, default="semantic"
        Which tokens form the features.
    channel_pooling : {"concat", "mean"}, default="concat"
        How per-channel embeddings are combined.
    finetune_epochs : int, default=0
        Epochs of self-supervised fine-tuning on ``X`` in ``fit`` (0: frozen).
    lr : float, default=1e-3
        Fine-tuning learning rate.
    batch_size : int, default=256
        Windows per forward pass.
    device : str, default="auto"
        Torch device, ``"auto"`` picks CUDA when available.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation and fine-tuning.
    verbose : bool, default=False
        Progress output during fine-tuning.

    Attributes
    ----------
    embedder_ : TSPulseEmbedder
        The fitted wrapped estimator.

    Examples
    --------
    >>> from sktime.datasets import load_gunpoint
    >>> from sslts.sktime import TSPulseTransformer
    >>> X, y = load_gunpoint(split="train")
    >>> features = TSPulseTransformer(pretrained="tspulse-tiny-random").fit_transform(X)
    >>> features.shape
    (50, 16)
    """

    _tags = {
        **_PACKAGING_TAGS,
        "scitype:transform-input": "Series",
        "scitype:transform-output": "Primitives",
        "scitype:instancewise": True,
        "X_inner_mtype": ["df-list", "numpy3D"],
        "y_inner_mtype": "None",
        "fit_is_empty": False,
        "requires_y": False,
        "capability:multivariate": True,
        "capability:unequal_length": True,
        "capability:unequal_length:removes": True,
        "capability:missing_values": True,
        "capability:missing_values:removes": True,
    }

    def __init__(
        self,
        pretrained: Any = "default",
        embedding: str = "semantic",
        channel_pooling: str = "concat",
        finetune_epochs: int = 0,
        lr: float = 1e-3,
        batch_size: int = 256,
        device: str = "auto",
        random_state: Any = None,
        verbose: bool = False,
    ) -> None:
        self.pretrained = pretrained
        self.embedding = embedding
        self.channel_pooling = channel_pooling
        self.finetune_epochs = finetune_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        super().__init__()

    def _fit(self, X: Any, y: Any = None) -> TSPulseTransformer:
        self.embedder_ = self._wrapped(TSPulseEmbedder).fit(_as_panel(X))
        return self

    def _transform(self, X: Any, y: Any = None) -> pd.DataFrame:
        features = self.embedder_.transform(_as_panel(X))
        return pd.DataFrame(features, columns=self.embedder_.get_feature_names_out())

    @classmethod
    def get_test_params(cls, parameter_set: str = "default") -> list[dict[str, Any]]:
        """Fast settings for sktime's estimator checks: the 5k-parameter random model.

        Parameters
        ----------
        parameter_set : str, default="default"
            Unused; one set serves every check.

        Returns
        -------
        list of dict
        """
        tiny = {"pretrained": "tspulse-tiny-random", "device": "cpu", "random_state": 0}
        return [
            tiny,
            {**tiny, "embedding": "both", "channel_pooling": "mean", "finetune_epochs": 1},
        ]
