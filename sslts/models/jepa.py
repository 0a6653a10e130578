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

import copy
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from sslts.models._config import ConfigDictMixin
from sslts.models._random import init_from_active_generator
from sslts.models.layers import RevIN, use_generator_dropout

__all__ = [
    "CodebookOutput",
    "CoarsePredictor",
    "EncoderOutput",
    "FinePredictor",
    "JEPAConfig",
    "MTSJEPA",
    "MTSJEPAOutput",
    "PatchDecoder",
    "PatchEncoder",
    "SoftCodebook",
    "coarse_view",
]


@dataclass(frozen=True)
class JEPAConfig(ConfigDictMixin):
    """Architecture, codebook and loss weights of the JEPA models.

    Defaults follow the MTS-JEPA paper (Appendix B.2) for the anomaly
    prediction protocol: windows of 100 points in 5 patches of 20, latent
    width 256, a 6-layer 8-head Transformer, 128 codes at temperature 0.1,
    2-layer 4-head predictors of width 128, EMA decay 0.996 and the loss
    weights of Eq. (5)-(14), with two exceptions: ``batch_entropy_weight``
    is 0.1 (paper 0.01) and ``reconstruction_space`` is ``"scaled"`` (paper:
    data units), for the reasons given under those parameters.

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
        published code) gives near-uniform ones (measured by
        ``benchmarks/bench_mtsjepa_collapse.py``).
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
        ``lambda_emb`` (soft codes pulled to the stopped encoder latents) and
        ``lambda_com`` (encoder latents pulled to their stopped soft codes);
        see :mod:`sslts.objectives.mtsjepa` on this choice of stop-gradients.
    sample_entropy_weight, batch_entropy_weight : float
        Weight of the mean per-assignment entropy (minimised) and of the
        entropy of the mean assignment (maximised). With the paper's batch
        weight of 0.01, pretraining on real telemetry (SMAP/MSL, TSB-AD-M;
        ``benchmarks/bench_mtsjepa_collapse.py``) put almost every held-out
        patch on the same 2-3 of 128 codes, so the early-warning features
        were nearly constant (index collapse, the mirror image of the uniform
        collapse at temperature 1.0); at 0.1 about 50 codes were in use with
        assignments still decisive (top-code probability about 0.22).
    reconstruction_start, reconstruction_end : float
        Reconstruction weight ``lambda_r``, annealed linearly from start to
        end over training (see :class:`sslts.training.ObjectiveProgress`).
    reconstruction_space : {"scaled", "data"}
        Where the reconstruction error is measured: ``"data"`` after undoing
        RevIN (the paper, whose data are standardised per variable first) or
        ``"scaled"`` in RevIN units. The two differ by a per-window weight
        ``scale ** 2``; ``"scaled"`` keeps the loss free of the channels'
        units, so raw series in the thousands cannot swamp the other terms.
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
    batch_entropy_weight: float = 0.1
    reconstruction_start: float = 0.5
    reconstruction_end: float = 0.1
    reconstruction_space: str = "scaled"

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
        if self.codebook_size < 2:
            raise ValueError(f"codebook_size must be >= 2, got {self.codebook_size}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0.0 <= self.ema_decay <= 1.0:
            raise ValueError(f"ema_decay must be in [0, 1], got {self.ema_decay}")
        if self.reconstruction_space not in ("data", "scaled"):
            raise ValueError(
                "reconstruction_space must be 'data' or 'scaled', "
                f"got {self.reconstruction_space!r}"
            )
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


class EncoderOutput(NamedTuple):
    """What :meth:`PatchEncoder.forward` returns.

    ``tokens`` are the latents; ``scaled`` the RevIN-scaled window (hidden
    points zero) and ``loc``/``scale`` the statistics that undo it:
    ``x = scaled * scale + loc``.

    Parameters
    ----------
    tokens : torch.Tensor
        ``(B, C, n_patches, d_model)``: the latents.
    scaled : torch.Tensor
        ``(B, C, T)``: the RevIN-scaled window.
    loc : torch.Tensor
        ``(B, C, 1)``: RevIN location.
    scale : torch.Tensor
        ``(B, C, 1)``: RevIN scale.
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


def _transformer(
    width: int, heads: int, layers: int, expansion: int, dropout: float
) -> nn.TransformerEncoder:
    """Pre-norm ``batch_first`` Transformer encoder (GELU) with a final LayerNorm.

    Its dropout draws from the fit's generator (see
    :func:`~sslts.models.layers.use_generator_dropout`).
    """
    layer = nn.TransformerEncoderLayer(
        width,
        heads,
        dim_feedforward=expansion * width,
        dropout=dropout,
        activation="gelu",
        batch_first=True,
        norm_first=True,
    )
    return nn.TransformerEncoder(
        use_generator_dropout(layer),
        layers,
        norm=nn.LayerNorm(width),
        enable_nested_tensor=False,
    )


@init_from_active_generator
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
        self.transformer = _transformer(
            cfg.d_model, cfg.n_heads, cfg.n_layers, cfg.expansion, cfg.dropout
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

        Parameters
        ----------
        x : torch.Tensor
            ``(B, C, T)`` windows.
        observed : torch.Tensor, optional
            Boolean ``(B, C, T)``, False where ``x`` is missing or padded.
        """
        visible = torch.ones_like(x, dtype=torch.bool) if observed is None else observed
        return self.revin(x, visible)

    def encode_patches(self, patches: torch.Tensor) -> torch.Tensor:
        """Encode already-scaled patches ``(..., n, patch_length)`` to ``(..., n, d_model)``.

        The ``n <= n_patches`` patches of one sequence attend to each other;
        all leading dimensions are independent.

        Parameters
        ----------
        patches : torch.Tensor
            ``(..., n, patch_length)``, already RevIN-scaled.
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

        Parameters
        ----------
        x : torch.Tensor
            ``(B, C, T)``, ``T`` a multiple of ``patch_length`` and at most
            ``context_length``.
        observed : torch.Tensor, optional
            Boolean ``(B, C, T)``, False where ``x`` is missing or padded.
        """
        return self.forward(x, observed).tokens

    def embed(self, x: torch.Tensor, observed: torch.Tensor | None = None) -> torch.Tensor:
        """Per-channel embeddings ``(B, C, d_model)``: the mean of :meth:`encode` over patches.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, C, T)``, as for :meth:`encode`.
        observed : torch.Tensor, optional
            Boolean ``(B, C, T)``, False where ``x`` is missing or padded.
        """
        return self.encode(x, observed).mean(-2)


class CodebookOutput(NamedTuple):
    """Soft assignments of latents to the prototypes of a :class:`SoftCodebook`.

    Parameters
    ----------
    probabilities : torch.Tensor
        ``(..., K)``: rows on the simplex.
    quantised : torch.Tensor
        ``(..., D)``: ``probabilities @ prototypes``.
    """

    probabilities: torch.Tensor  # (..., K), rows on the simplex
    quantised: torch.Tensor  # (..., D): probabilities @ prototypes


@init_from_active_generator
class SoftCodebook(nn.Module):
    """Soft codebook bottleneck (paper Eq. 3).

    ``p_k = softmax_k(cos(h, c_k) / tau)`` and the soft-quantised latent
    ``z = sum_k p_k c_k`` (a point in the convex hull of the prototypes).

    Parameters
    ----------
    size : int
        Number of prototypes ``K``.
    dim : int
        Latent width ``D``.
    temperature : float
        Softmax temperature ``tau``.
    """

    def __init__(self, size: int, dim: int, temperature: float) -> None:
        super().__init__()
        self.temperature = temperature
        self.prototypes = nn.Parameter(torch.randn(size, dim))

    def logits(self, latents: torch.Tensor) -> torch.Tensor:
        """Cosine similarities over the temperature, ``(..., K)``.

        Parameters
        ----------
        latents : torch.Tensor
            ``(..., D)`` latents.
        """
        h = nn.functional.normalize(latents, dim=-1)
        c = nn.functional.normalize(self.prototypes, dim=-1)
        return h @ c.T / self.temperature

    def forward(self, latents: torch.Tensor) -> CodebookOutput:
        """Assign ``(..., D)`` latents; returns probabilities and soft-quantised latents."""
        probabilities = torch.softmax(self.logits(latents), dim=-1)
        return CodebookOutput(probabilities, probabilities @ self.prototypes)


@init_from_active_generator
class _CodeSequencePredictor(nn.Module):
    """Shared front of the predictors: embed the context code sequence, add positions.

    Codes (or latents when there is no codebook) are projected to
    ``predictor_dim`` and a learned position vector is added per patch.

    Parameters
    ----------
    config : JEPAConfig
    """

    def __init__(self, config: JEPAConfig) -> None:
        super().__init__()
        width = config.predictor_dim
        source = config.codebook_size if config.use_codebook else config.d_model
        self.input = nn.Linear(source, width)
        self.position = nn.Parameter(torch.randn(config.n_patches, width) * 0.02)

    def _embed(self, codes: torch.Tensor) -> torch.Tensor:
        """``(..., P, K or D)`` -> ``(prod(...), P, predictor_dim)``."""
        *_, n, width = codes.shape
        return self.input(codes.reshape(-1, n, width)) + self.position[:n]


@init_from_active_generator
class FinePredictor(_CodeSequencePredictor):
    """Patch-level predictor: context code sequence -> target window, patch by patch.

    A Transformer over the ``n_patches`` context codes (or latents when there
    is no codebook), then two heads per patch: logits over the ``K`` codes of
    the target patch (None without a codebook) and the target latent.

    Parameters
    ----------
    config : JEPAConfig
    """

    def __init__(self, config: JEPAConfig) -> None:
        super().__init__(config)
        cfg = config
        width = cfg.predictor_dim
        self.transformer = _transformer(
            width, cfg.predictor_heads, cfg.predictor_layers, cfg.expansion, cfg.dropout
        )
        self.code_head = nn.Linear(width, cfg.codebook_size) if cfg.use_codebook else None
        self.latent_head = nn.Linear(width, cfg.d_model)

    def forward(self, codes: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        """``(..., P, K or D)`` -> ``(logits (..., P, K) or None, latents (..., P, D))``."""
        h = self.transformer(self._embed(codes)).view(*codes.shape[:-1], -1)
        logits = None if self.code_head is None else self.code_head(h)
        return logits, self.latent_head(h)


@init_from_active_generator
class CoarsePredictor(_CodeSequencePredictor):
    """Window-level predictor (paper Eq. 4): a learnable query cross-attends to the codes.

    A 2-layer Transformer decoder whose one target token is the learned
    query and whose memory is the embedded context code sequence. Outputs
    logits ``(..., K)`` over the code of the coarse target patch, or, without
    a codebook, the coarse target latent ``(..., D)``.

    Parameters
    ----------
    config : JEPAConfig
    """

    def __init__(self, config: JEPAConfig) -> None:
        super().__init__(config)
        cfg = config
        width = cfg.predictor_dim
        self.query = nn.Parameter(torch.randn(1, width) * 0.02)
        layer = nn.TransformerDecoderLayer(
            width,
            cfg.predictor_heads,
            dim_feedforward=cfg.expansion * width,
            dropout=cfg.dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.decoder = nn.TransformerDecoder(
            use_generator_dropout(layer), cfg.predictor_layers, norm=nn.LayerNorm(width)
        )
        self.head = nn.Linear(width, cfg.codebook_size if cfg.use_codebook else cfg.d_model)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        """``(..., P, K or D)`` -> ``(..., K or D)``."""
        memory = self._embed(codes)
        query = self.query.expand(memory.shape[0], 1, -1)
        out = self.decoder(query, memory)[:, 0]
        return self.head(out).view(*codes.shape[:-2], -1)


@init_from_active_generator
class PatchDecoder(nn.Module):
    """Reconstruct each patch (RevIN-scaled) from its soft-quantised latent.

    An MLP ``d_model -> d_model -> patch_length`` per patch; patches are
    concatenated back to ``(..., T)``.

    Parameters
    ----------
    config : JEPAConfig
        Gives ``d_model`` and ``patch_length``.
    """

    def __init__(self, config: JEPAConfig) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(config.d_model, config.d_model),
            nn.GELU(),
            nn.Linear(config.d_model, config.patch_length),
        )

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        """``(..., P, D)`` -> ``(..., P * patch_length)``."""
        return self.mlp(latents).flatten(-2)


class MTSJEPAOutput(NamedTuple):
    """What :meth:`MTSJEPA.forward` returns (``B`` windows, ``C`` channels, ``P`` patches).

    Fields that the configuration switches off, or that need the target
    window when none was given, are None. ``*_latent`` targets are the soft
    quantised target latents with a codebook and the raw target latents
    without one.

    Parameters
    ----------
    tokens : torch.Tensor
        ``(B, C, P, D)``: online latents ``h_t``.
    probabilities : torch.Tensor or None
        ``(B, C, P, K)``: online codes ``p_t``.
    quantised : torch.Tensor
        ``(B, C, P, D)``: ``z_t`` (the tokens without a codebook).
    reconstruction : torch.Tensor
        ``(B, C, T)``: decoder output in data units.
    loc : torch.Tensor
        ``(B, C, 1)``: RevIN location of the context.
    scale : torch.Tensor
        ``(B, C, 1)``: RevIN scale of the context.
    fine_logits : torch.Tensor or None
        ``(B, C, P, K)``: predicted target codes.
    fine_latent : torch.Tensor or None
        ``(B, C, P, D)``: predicted target latents.
    coarse_logits : torch.Tensor or None
        ``(B, C, K)``: predicted coarse code.
    coarse_latent : torch.Tensor or None
        ``(B, C, D)``: predicted coarse latent (no codebook).
    target_probabilities : torch.Tensor or None
        ``(B, C, P, K)``: target codes.
    target_latent : torch.Tensor or None
        ``(B, C, P, D)``: target latents.
    target_coarse_probabilities : torch.Tensor or None
        ``(B, C, K)``: target coarse code.
    target_coarse_latent : torch.Tensor or None
        ``(B, C, D)``: target coarse latent.
    """

    tokens: torch.Tensor  # (B, C, P, D) online latents h_t
    probabilities: torch.Tensor | None  # (B, C, P, K) online codes p_t
    quantised: torch.Tensor  # (B, C, P, D) z_t (= tokens without a codebook)
    reconstruction: torch.Tensor  # (B, C, T) decoder output in data units
    loc: torch.Tensor  # (B, C, 1) RevIN location of the context
    scale: torch.Tensor  # (B, C, 1) RevIN scale of the context
    fine_logits: torch.Tensor | None  # (B, C, P, K) predicted target codes
    fine_latent: torch.Tensor | None  # (B, C, P, D) predicted target latents
    coarse_logits: torch.Tensor | None  # (B, C, K) predicted coarse code
    coarse_latent: torch.Tensor | None  # (B, C, D) predicted coarse latent (no codebook)
    target_probabilities: torch.Tensor | None  # (B, C, P, K)
    target_latent: torch.Tensor | None  # (B, C, P, D)
    target_coarse_probabilities: torch.Tensor | None  # (B, C, K)
    target_coarse_latent: torch.Tensor | None  # (B, C, D)


@init_from_active_generator
class MTSJEPA(nn.Module):
    """MTS-JEPA: online encoder + soft codebook, predictors, decoder, EMA target.

    The online branch encodes the context window ``x`` (fine view: patches)
    with :class:`PatchEncoder` and assigns each patch latent to the
    :class:`SoftCodebook`; the code sequence feeds a :class:`FinePredictor`
    (target codes and latents, patch by patch) and a :class:`CoarsePredictor`
    (the code of the target's coarse view); a :class:`PatchDecoder`
    reconstructs the context from the soft-quantised latents. The target
    branch (``target_encoder``, ``target_codebook``; EMA copies that never
    get gradients and always run in eval mode) encodes the next window
    ``x_next`` in both views. The EMA update is done by
    :class:`sslts.training.EMATarget` after every optimiser step; the losses
    by :class:`sslts.objectives.MTSJEPAObjective`.

    Parameters
    ----------
    config : JEPAConfig

    Examples
    --------
    >>> import torch
    >>> from sslts.models import JEPAConfig, MTSJEPA
    >>> cfg = JEPAConfig(context_length=40, patch_length=10, d_model=16, n_layers=1,
    ...                  n_heads=2, codebook_size=8, predictor_dim=16,
    ...                  predictor_layers=1, predictor_heads=2)
    >>> model = MTSJEPA(cfg)
    >>> out = model(torch.randn(3, 2, 40), torch.randn(3, 2, 40))
    >>> out.fine_logits.shape, out.target_coarse_probabilities.shape
    (torch.Size([3, 2, 4, 8]), torch.Size([3, 2, 8]))
    >>> model.code_features(torch.randn(3, 2, 40)).shape
    torch.Size([3, 4, 8])
    """

    def __init__(self, config: JEPAConfig) -> None:
        super().__init__()
        self.config = config
        cfg = config
        self.encoder = PatchEncoder(cfg)
        self.codebook = (
            SoftCodebook(cfg.codebook_size, cfg.d_model, cfg.temperature)
            if cfg.use_codebook
            else None
        )
        self.fine_predictor = FinePredictor(cfg)
        self.coarse_predictor = CoarsePredictor(cfg) if cfg.use_coarse else None
        self.decoder = PatchDecoder(cfg)
        self.target_encoder = copy.deepcopy(self.encoder).requires_grad_(False)
        self.target_codebook = (
            None if self.codebook is None else copy.deepcopy(self.codebook).requires_grad_(False)
        )
        self._targets_eval()

    def _targets_eval(self) -> None:
        self.target_encoder.eval()
        if self.target_codebook is not None:
            self.target_codebook.eval()

    def train(self, mode: bool = True) -> MTSJEPA:
        """Set the online parts to ``mode``; the target branch stays in eval mode.

        Parameters
        ----------
        mode : bool, default=True
            Training mode (True) or evaluation mode.
        """
        super().train(mode)
        self._targets_eval()
        return self

    def _check_window(self, x: torch.Tensor, name: str) -> None:
        expected = self.config.context_length
        if x.ndim != 3 or x.shape[-1] != expected:
            raise ValueError(
                f"{name} must be (batch, channels, {expected}), got shape {tuple(x.shape)}"
            )

    def forward(
        self,
        x: torch.Tensor,
        x_next: torch.Tensor | None = None,
        observed: torch.Tensor | None = None,
        observed_next: torch.Tensor | None = None,
    ) -> MTSJEPAOutput:
        """Run the online branch on ``x`` and, given ``x_next``, the target branch.

        Parameters
        ----------
        x, x_next : torch.Tensor
            Context window and the window right after it, ``(B, C,
            context_length)`` each.
        observed, observed_next : torch.Tensor, optional
            Boolean masks like ``x`` and ``x_next`` (False = missing).
        """
        cfg = self.config
        self._check_window(x, "x")
        encoded = self.encoder(x, observed)
        tokens = encoded.tokens
        if self.codebook is None:
            probabilities, quantised, codes = None, tokens, tokens
        else:
            probabilities, quantised = self.codebook(tokens)
            codes = probabilities
        fine_logits, fine_latent = self.fine_predictor(codes)
        coarse = None if self.coarse_predictor is None else self.coarse_predictor(codes)
        reconstruction = self.decoder(quantised) * encoded.scale + encoded.loc
        targets = self._targets(x_next, observed_next)
        return MTSJEPAOutput(
            tokens=tokens,
            probabilities=probabilities,
            quantised=quantised,
            reconstruction=reconstruction,
            loc=encoded.loc,
            scale=encoded.scale,
            fine_logits=fine_logits,
            fine_latent=fine_latent,
            coarse_logits=coarse if cfg.use_codebook else None,
            coarse_latent=None if cfg.use_codebook else coarse,
            **targets,
        )

    @torch.no_grad()
    def _targets(
        self, x_next: torch.Tensor | None, observed_next: torch.Tensor | None
    ) -> dict[str, torch.Tensor | None]:
        names = (
            "target_probabilities",
            "target_latent",
            "target_coarse_probabilities",
            "target_coarse_latent",
        )
        out: dict[str, torch.Tensor | None] = dict.fromkeys(names)
        if x_next is None:
            return out
        self._check_window(x_next, "x_next")
        encoded = self.target_encoder(x_next, observed_next)
        coarse = None
        if self.coarse_predictor is not None:
            view = coarse_view(encoded.scaled, self.config.n_patches)
            coarse = self.target_encoder.encode_patches(view)[..., 0, :]
        if self.target_codebook is None:
            out["target_latent"] = encoded.tokens
            out["target_coarse_latent"] = coarse
            return out
        out["target_probabilities"], out["target_latent"] = self.target_codebook(
            encoded.tokens
        )
        if coarse is not None:
            out["target_coarse_probabilities"] = self.target_codebook(coarse).probabilities
        return out

    def encode(self, x: torch.Tensor, observed: torch.Tensor | None = None) -> torch.Tensor:
        """Online patch latents ``(B, C, P, D)`` (see :meth:`PatchEncoder.encode`).

        Parameters
        ----------
        x : torch.Tensor
            ``(B, C, context_length)`` context windows.
        observed : torch.Tensor, optional
            Boolean ``(B, C, T)``, False where ``x`` is missing or padded.
        """
        return self.encoder.encode(x, observed)

    def embed(self, x: torch.Tensor, observed: torch.Tensor | None = None) -> torch.Tensor:
        """Online embeddings ``(B, C, D)``, the patch mean (see :meth:`PatchEncoder.embed`).

        Parameters
        ----------
        x : torch.Tensor
            ``(B, C, context_length)`` context windows.
        observed : torch.Tensor, optional
            Boolean ``(B, C, T)``, False where ``x`` is missing or padded.
        """
        return self.encoder.embed(x, observed)

    def code_probabilities(
        self, x: torch.Tensor, observed: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Online code probabilities ``(B, C, P, K)`` of the context window ``x``.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, C, context_length)`` context windows.
        observed : torch.Tensor, optional
            Boolean ``(B, C, T)``, False where ``x`` is missing or padded.
        """
        if self.codebook is None:
            raise ValueError("this model has no codebook (use_codebook=False)")
        return self.codebook(self.encoder.encode(x, observed)).probabilities

    def code_features(
        self, x: torch.Tensor, observed: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Early-warning features: variable-wise max-pooled codes ``(B, P, K)``.

        The paper's downstream input (Appendix B.4, Eq. 31): the code
        probabilities of every patch, maximised over channels; the patch axis
        is kept. Flatten to ``(B, P * K)`` for a classifier.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, C, context_length)`` context windows.
        observed : torch.Tensor, optional
            Boolean ``(B, C, T)``, False where ``x`` is missing or padded.
        """
        return self.code_probabilities(x, observed).amax(1)
