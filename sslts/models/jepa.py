"""The shared latent-SSL encoder and the MTS-JEPA model built on it.

:class:`PatchEncoder` is the one backbone of the latent self-supervised
objectives (MTS-JEPA here; LeJEPA, DINO and masked reconstruction elsewhere):

1. RevIN per series and channel, from the observed points (statistics are
   returned so a decoder can undo the scaling);
2. the window is cut into ``n = T / patch_length`` non-overlapping patches;
   each patch is embedded by a two-layer MLP (``patch_length -> d_model ->
   d_model``) and a learned positional embedding of its index is added;
3. a pre-norm Transformer encoder (``torch.nn.TransformerEncoder``,
   ``batch_first``, GELU, final LayerNorm) mixes the patches of one channel.

Channels are a batch-like dimension (channel-independent encoding): input
``(B, C, T)`` gives tokens ``(B, C, n, d_model)``.

:class:`MTSJEPA` follows He et al., "MTS-JEPA: Multi-resolution Joint-Embedding
Predictive Architecture for Time-Series Anomaly Prediction" (2026): a soft
codebook, a fine and a coarse predictor, a reconstruction decoder and an EMA
target branch (encoder + codebook), all around one :class:`PatchEncoder`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import nn

from sslts.models.layers import RevIN

__all__ = ["EncoderOutput", "JEPAConfig", "PatchEncoder", "coarse_view"]


@dataclass(frozen=True)
class JEPAConfig:
    """Architecture, codebook and loss weights of the JEPA models.

    Defaults follow the MTS-JEPA paper (Appendix B.2) for the anomaly
    prediction protocol: windows of 100 points in 5 patches of 20, latent
    width 256, a 6-layer 8-head Transformer, 128 codes at temperature 0.1,
    2-layer 4-head predictors of width 128, EMA decay 0.996 and the loss
    weights of Eq. (5)-(14).

    Parameters
    ----------
    context_length : int
        Points per window (context and target windows alike); a multiple of
        ``patch_length``.
    patch_length : int
        Points per patch ``L``; ``n_patches = context_length / patch_length``.
    d_model : int
        Latent width ``D`` of the encoder tokens and of the codes.
    n_layers, n_heads : int
        Depth and heads of the encoder Transformer (``d_model`` must be a
        multiple of ``n_heads``).
    expansion : int
        Feed-forward width of every Transformer layer as a multiple of its
        model width.
    dropout : float
        Dropout in the Transformer layers (encoder and predictors).
    codebook_size : int
        Number of prototypes ``K`` of the soft codebook.
    temperature : float
        Softmax temperature ``tau`` of the cosine similarities between latents
        and prototypes. 0.1 (the paper) gives decisive assignments; 1.0 (the
        published code) gives near-uniform ones (see SCIENCE.md §8).
    predictor_dim, predictor_layers, predictor_heads : int
        Width, depth and heads of the fine and coarse predictors.
    use_codebook : bool
        False removes the codebook (ablation "w/o codebook module"): the fine
        predictor regresses the target latents with MSE, there is no coarse
        KL and no codebook loss; the decoder reads the latents.
    use_coarse : bool
        False removes the coarse branch (no coarse view, no coarse predictor).
    ema_decay : float
        Decay ``rho`` of the EMA target encoder and codebook.
    fine_weight, coarse_weight, latent_weight : float
        ``lambda_f``, ``lambda_c`` and ``gamma`` of the predictive loss
        ``lambda_f (KL_fine + gamma MSE_fine) + lambda_c KL_coarse``.
    codebook_weight, commitment_weight : float
        ``lambda_emb`` (encoder pulled to the stopped soft code) and
        ``lambda_com`` (soft code pulled to the stopped latent).
    sample_entropy_weight, batch_entropy_weight : float
        Weight of the mean per-assignment entropy (minimised) and of the
        entropy of the mean assignment (maximised).
    reconstruction_start, reconstruction_end : float
        Reconstruction weight ``lambda_r``, annealed linearly from start to
        end over training (see :class:`sslts.training.ObjectiveProgress`).
    """

    context_length: int = 100
    patch_length: int = 20
    d_model: int = 256
    n_layers: int = 6
    n_heads: int = 8
    expansion: int = 4
    dropout: float = 0.1
    codebook_size: int = 128
    temperature: float = 0.1
    predictor_dim: int = 128
    predictor_layers: int = 2
    predictor_heads: int = 4
    use_codebook: bool = True
    use_coarse: bool = True
    ema_decay: float = 0.996
    fine_weight: float = 1.0
    coarse_weight: float = 0.5
    latent_weight: float = 0.1
    codebook_weight: float = 1.0
    commitment_weight: float = 0.25
    sample_entropy_weight: float = 0.005
    batch_entropy_weight: float = 0.01
    reconstruction_start: float = 0.5
    reconstruction_end: float = 0.1

    def __post_init__(self) -> None:
        positive = (
            "context_length",
            "patch_length",
            "d_model",
            "n_layers",
            "n_heads",
            "expansion",
            "codebook_size",
            "predictor_dim",
            "predictor_layers",
            "predictor_heads",
        )
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.context_length % self.patch_length:
            raise ValueError(
                f"context_length ({self.context_length}) must be a multiple of "
                f"patch_length ({self.patch_length})"
            )
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model ({self.d_model}) must be a multiple of n_heads ({self.n_heads})"
            )
        if self.predictor_dim % self.predictor_heads:
            raise ValueError(
                f"predictor_dim ({self.predictor_dim}) must be a multiple of "
                f"predictor_heads ({self.predictor_heads})"
            )
        if self.use_coarse and self.n_patches * self.patch_length != self.context_length:
            raise ValueError("the coarse view needs context_length = n_patches * patch_length")
        if self.codebook_size < 2:
            raise ValueError(f"codebook_size must be >= 2, got {self.codebook_size}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0.0 <= self.ema_decay <= 1.0:
            raise ValueError(f"ema_decay must be in [0, 1], got {self.ema_decay}")
        weights = (
            "fine_weight",
            "coarse_weight",
            "latent_weight",
            "codebook_weight",
            "commitment_weight",
            "sample_entropy_weight",
            "batch_entropy_weight",
            "reconstruction_start",
            "reconstruction_end",
        )
        for name in weights:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    @property
    def n_patches(self) -> int:
        """Patches per window, ``context_length / patch_length``."""
        return self.context_length // self.patch_length

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form of the configuration."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> JEPAConfig:
        """Build a configuration, rejecting unknown keys with a clear error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown JEPA configuration keys: {unknown}")
        return cls(**values)


class EncoderOutput(NamedTuple):
    """What :meth:`PatchEncoder.forward` returns.

    ``tokens`` are the latents; ``scaled`` the RevIN-scaled window (hidden
    points zero) and ``loc``/``scale`` the statistics that undo it:
    ``x = scaled * scale + loc``.
    """

    tokens: torch.Tensor  # (B, C, n_patches, d_model)
    scaled: torch.Tensor  # (B, C, T)
    loc: torch.Tensor  # (B, C, 1)
    scale: torch.Tensor  # (B, C, 1)


def coarse_view(scaled: torch.Tensor, n_patches: int) -> torch.Tensor:
    """The coarse view of MTS-JEPA (paper Eq. 16): one patch of window averages.

    Every ``n_patches`` consecutive points of the (RevIN-scaled) window are
    averaged, so a window of ``T = n_patches * L`` points becomes one patch of
    ``L`` points.

    Parameters
    ----------
    scaled : torch.Tensor
        ``(..., T)`` with ``T`` a multiple of ``n_patches``.
    n_patches : int
        Averaging factor ``P``.

    Returns
    -------
    torch.Tensor
        ``(..., 1, T / n_patches)``: a one-patch sequence for
        :meth:`PatchEncoder.encode_patches`.
    """
    length = scaled.shape[-1]
    if length % n_patches:
        raise ValueError(f"window length {length} is not a multiple of {n_patches}")
    averaged = scaled.unflatten(-1, (length // n_patches, n_patches)).mean(-1)
    return averaged.unsqueeze(-2)


class PatchEncoder(nn.Module):
    """Channel-independent patch Transformer: the shared backbone of the JEPAs.

    Parameters
    ----------
    config : JEPAConfig
        Uses ``context_length``, ``patch_length``, ``d_model``, ``n_layers``,
        ``n_heads``, ``expansion`` and ``dropout``.

    Notes
    -----
    Input windows may be shorter than ``context_length`` as long as their
    length is a multiple of ``patch_length``: patch ``i`` always gets
    positional embedding ``i``, so a window of ``n <= n_patches`` patches uses
    the first ``n`` positions (the coarse view of MTS-JEPA is one patch at
    position 0). Every method that takes ``observed`` (boolean, like ``x``,
    False where a value is missing or padded) computes RevIN from the observed
    points and feeds zeros in place of the others; ``None`` means all observed.

    Examples
    --------
    >>> import torch
    >>> from sslts.models import JEPAConfig, PatchEncoder
    >>> cfg = JEPAConfig(context_length=40, patch_length=10, d_model=16,
    ...                  n_layers=1, n_heads=2)
    >>> encoder = PatchEncoder(cfg)
    >>> encoder.encode(torch.randn(3, 2, 40)).shape
    torch.Size([3, 2, 4, 16])
    >>> encoder.embed(torch.randn(3, 2, 40)).shape
    torch.Size([3, 2, 16])
    """

    def __init__(self, config: JEPAConfig) -> None:
        super().__init__()
        self.config = config
        cfg = config
        self.revin = RevIN()
        self.patch_embedding = nn.Sequential(
            nn.Linear(cfg.patch_length, cfg.d_model),
            nn.GELU(),
            nn.Linear(cfg.d_model, cfg.d_model),
        )
        self.position = nn.Parameter(torch.randn(cfg.n_patches, cfg.d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(
            cfg.d_model,
            cfg.n_heads,
            dim_feedforward=cfg.expansion * cfg.d_model,
            dropout=cfg.dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.transformer = nn.TransformerEncoder(
            layer,
            cfg.n_layers,
            norm=nn.LayerNorm(cfg.d_model),
            enable_nested_tensor=False,
        )

    def _check_input(self, x: torch.Tensor) -> int:
        if x.ndim != 3:
            raise ValueError(f"expected (batch, channels, time), got shape {tuple(x.shape)}")
        length, cfg = x.shape[-1], self.config
        if length == 0 or length % cfg.patch_length or length > cfg.context_length:
            raise ValueError(
                f"window length must be a positive multiple of patch_length "
                f"({cfg.patch_length}) up to context_length ({cfg.context_length}), "
                f"got {length}"
            )
        return length // cfg.patch_length

    def normalise(
        self, x: torch.Tensor, observed: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """RevIN: ``(scaled, loc, scale)`` with ``x ~ scaled * scale + loc``.

        ``x`` is ``(B, C, T)``; ``loc`` and ``scale`` are ``(B, C, 1)``.
        Unobserved points are zero in ``scaled``.
        """
        visible = torch.ones_like(x, dtype=torch.bool) if observed is None else observed
        return self.revin(x, visible)

    def encode_patches(self, patches: torch.Tensor) -> torch.Tensor:
        """Encode already-scaled patches ``(..., n, patch_length)`` to ``(..., n, d_model)``.

        The ``n <= n_patches`` patches of one sequence attend to each other;
        all leading dimensions are independent.
        """
        *leading, n, length = patches.shape
        if length != self.config.patch_length or not 1 <= n <= self.config.n_patches:
            raise ValueError(
                f"expected (..., n <= {self.config.n_patches}, {self.config.patch_length}) "
                f"patches, got shape {tuple(patches.shape)}"
            )
        tokens = self.patch_embedding(patches) + self.position[:n]
        tokens = self.transformer(tokens.reshape(-1, n, self.config.d_model))
        return tokens.view(*leading, n, self.config.d_model)

    def forward(
        self, x: torch.Tensor, observed: torch.Tensor | None = None
    ) -> EncoderOutput:
        """Scale, patch and encode a window; return the tokens and RevIN statistics.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, C, T)``, ``T`` a multiple of ``patch_length`` and at most
            ``context_length``.
        observed : torch.Tensor, optional
            Boolean ``(B, C, T)``, False where ``x`` is missing or padded.
        """
        n = self._check_input(x)
        scaled, loc, scale = self.normalise(x, observed)
        tokens = self.encode_patches(scaled.unflatten(-1, (n, self.config.patch_length)))
        return EncoderOutput(tokens, scaled, loc, scale)

    def encode(self, x: torch.Tensor, observed: torch.Tensor | None = None) -> torch.Tensor:
        """Patch tokens ``(B, C, n_patches, d_model)`` of ``x`` ``(B, C, T)``.

        Token ``[b, c, i]`` is the latent of patch ``i`` (points
        ``i * patch_length`` to ``(i + 1) * patch_length``) of channel ``c``;
        ``n_patches = T / patch_length``.
        """
        return self.forward(x, observed).tokens

    def embed(self, x: torch.Tensor, observed: torch.Tensor | None = None) -> torch.Tensor:
        """Per-channel embeddings ``(B, C, d_model)``: the mean of :meth:`encode` over patches."""
        return self.encode(x, observed).mean(-2)
