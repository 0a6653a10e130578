"""TSPulse: dual-space (time + FFT) masked reconstruction on a TSMixer backbone.

The model follows Ekambaram et al., "TSPulse: Dual Space Tiny Pre-Trained
Models for Rapid Time-Series Analysis" (2025):

1. RevIN scaling from the visible points, hidden points set to zero;
2. time patches (``patch_length`` points) embedded linearly, a learnable mask
   token replacing every fully hidden patch;
3. an FFT branch: ``rfft`` of the masked, scaled series, last (Nyquist) bin
   dropped, real and imaginary parts each divided by their largest magnitude,
   laid out as ``[real; imag]`` and cut into as many patches as the time branch;
4. learnable register tokens appended: tokens = ``[time (N); fft (N); reg (R)]``;
5. a TSMixer backbone and a mini decoder, both channel-independent;
6. heads: time reconstruction and FFT reconstruction (on the detail tokens),
   FFT probability (softmax of the log-amplitude spectrum) and a short-term
   forecast (on the register tokens).

Channels are a batch-like dimension everywhere: input ``(batch, channels,
time)`` gives tokens ``(batch, channels, tokens, d_model)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from sslts.models._config import ConfigDictMixin
from sslts.models._random import active_generator, init_from_active_generator
from sslts.models.layers import MixerStack, RevIN, mix_token_major
from sslts.models.masking import mixed_mask

__all__ = ["TSPulseConfig", "TSPulse", "TSPulseOutput", "FFTFeatures", "POOLINGS",
           "pooled_readout", "pooled_readout_width"]


@dataclass(frozen=True)
class TSPulseConfig(ConfigDictMixin):
    """Architecture, masking and loss weights of a :class:`TSPulse` model.

    The defaults are the "r1-like" configuration of the paper's released
    model: context 512, patch 8, ``d_model`` 24, 10 registers, a 2-layer mini
    decoder; about one million parameters.

    Parameters
    ----------
    context_length : int
        Points per input window; a multiple of ``2 * patch_length``.
    patch_length : int
        Points per patch.
    d_model : int
        Token width.
    n_layers, n_decoder_layers : int
        Mixer layers in the backbone and in the mini decoder.
    n_registers : int
        Learnable register ("semantic") tokens.
    expansion : int
        Hidden-size multiplier of the mixer MLPs.
    dropout : float
        Dropout inside the mixer layers.
    forecast_length : int
        Points after the context predicted by the forecast head.
    mask_block_ratio, mask_point_ratio : float
        Mixed masking used in training: fraction of whole patches hidden, then
        probability of hiding each remaining point.
    time_weight, fft_weight, fft_time_weight, prob_weight, forecast_weight : float
        Weights of the five pretraining losses (see
        :class:`sslts.objectives.TSPulseObjective`).
    target_clip : float
        Reconstruction and forecast targets (in RevIN units) are clipped to
        ``[-target_clip, target_clip]`` in the loss. A window whose visible
        part is almost flat has a tiny RevIN scale, and one hidden spike then
        becomes a target of 1e4 or more that swamps a whole batch (about one
        synthetic series in a thousand does this).
    """

    context_length: int = 512
    patch_length: int = 8
    d_model: int = 24
    n_layers: int = 7
    n_decoder_layers: int = 2
    n_registers: int = 10
    expansion: int = 2
    dropout: float = 0.1
    forecast_length: int = 32
    mask_block_ratio: float = 0.25
    mask_point_ratio: float = 0.1
    time_weight: float = 1.0
    fft_weight: float = 1.0
    fft_time_weight: float = 1.0
    prob_weight: float = 1.0
    forecast_weight: float = 1.0
    target_clip: float = 20.0

    def __post_init__(self) -> None:
        positive = (
            "context_length",
            "patch_length",
            "d_model",
            "n_layers",
            "expansion",
            "forecast_length",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.context_length % (2 * self.patch_length):
            raise ValueError(
                f"context_length ({self.context_length}) must be a multiple of "
                f"2 * patch_length ({2 * self.patch_length})"
            )
        if self.n_registers < 1 or self.n_decoder_layers < 0:
            raise ValueError("n_registers must be >= 1 and n_decoder_layers >= 0")

    @property
    def n_patches(self) -> int:
        """Patches per branch (time and FFT each)."""
        return self.context_length // self.patch_length

    @property
    def n_tokens(self) -> int:
        """Tokens seen by the backbone: time + FFT patches + registers."""
        return 2 * self.n_patches + self.n_registers


class FFTFeatures(NamedTuple):
    """Normalised spectrum of a scaled series and the factors to undo it."""

    features: torch.Tensor  # (..., context): [real; imag] / max magnitudes
    real_scale: torch.Tensor  # (..., 1)
    imag_scale: torch.Tensor  # (..., 1)


class TSPulseOutput(NamedTuple):
    """What one forward pass returns; all series values are in RevIN space.

    Parameters
    ----------
    time : torch.Tensor
        ``(B, C, T)``: time-head reconstruction.
    fft : torch.Tensor
        ``(B, C, T)``: normalised ``[real; imag]`` spectrum reconstruction.
    fft_time : torch.Tensor
        ``(B, C, T)``: inverse FFT of the spectrum head.
    prob_logits : torch.Tensor
        ``(B, C, T // 2)``: spectrum-probability logits.
    forecast : torch.Tensor
        ``(B, C, H)``: the points after the context.
    hidden : torch.Tensor
        ``(B, C, T)`` bool: True where the input was hidden.
    loc : torch.Tensor
        ``(B, C, 1)``: RevIN location.
    scale : torch.Tensor
        ``(B, C, 1)``: RevIN scale.
    spectrum : FFTFeatures
        FFT features of the masked input (they carry the scales).
    tokens : torch.Tensor
        ``(B, C, K, D)``: decoder output tokens.
    """

    time: torch.Tensor  # (B, C, T) time-head reconstruction
    fft: torch.Tensor  # (B, C, T) normalised [real; imag] spectrum reconstruction
    fft_time: torch.Tensor  # (B, C, T) inverse FFT of the spectrum head
    prob_logits: torch.Tensor  # (B, C, T // 2) spectrum-probability logits
    forecast: torch.Tensor  # (B, C, H) points after the context
    hidden: torch.Tensor  # (B, C, T) bool, True where the input was hidden
    loc: torch.Tensor  # (B, C, 1) RevIN location
    scale: torch.Tensor  # (B, C, 1) RevIN scale
    spectrum: FFTFeatures  # FFT features of the masked input (carry the scales)
    tokens: torch.Tensor  # (B, C, K, D) decoder output tokens


def normalised_spectrum(
    x: torch.Tensor, real_scale: torch.Tensor, imag_scale: torch.Tensor
) -> torch.Tensor:
    """``[real; imag]`` of ``rfft(x)`` (Nyquist bin dropped), divided by the scales."""
    spec = torch.fft.rfft(x, dim=-1)[..., :-1]
    return torch.cat([spec.real / real_scale, spec.imag / imag_scale], dim=-1)


def fft_features(x: torch.Tensor, eps: float = 1e-6) -> FFTFeatures:
    """Spectrum of ``x`` normalised by the largest real and imaginary magnitudes."""
    spec = torch.fft.rfft(x, dim=-1)[..., :-1]
    real_scale = spec.real.abs().amax(-1, keepdim=True).clamp_min(eps)
    imag_scale = spec.imag.abs().amax(-1, keepdim=True).clamp_min(eps)
    features = torch.cat([spec.real / real_scale, spec.imag / imag_scale], dim=-1)
    return FFTFeatures(features, real_scale, imag_scale)


def inverse_fft_features(
    features: torch.Tensor, real_scale: torch.Tensor, imag_scale: torch.Tensor
) -> torch.Tensor:
    """Time series whose :func:`fft_features` (with the given scales) is ``features``."""
    half = features.shape[-1] // 2
    spec = torch.complex(features[..., :half] * real_scale, features[..., half:] * imag_scale)
    spec = torch.cat([spec, torch.zeros_like(spec[..., :1])], dim=-1)
    return torch.fft.irfft(spec, n=2 * half, dim=-1)


def spectrum_log_amplitude(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Log-amplitude spectrum of ``x`` (Nyquist bin dropped), the probability-head target."""
    spec = torch.fft.rfft(x, dim=-1)[..., :-1]
    return torch.log(spec.abs() + eps)


#: Statistics over the observed patches that :func:`pooled_readout` can take.
POOLINGS = ("mean", "max")


def pooled_readout(
    tokens: torch.Tensor,
    observed: torch.Tensor,
    config: TSPulseConfig,
    pooling: tuple[str, ...] = ("mean",),
) -> torch.Tensor:
    """Register tokens, then time and FFT patch tokens pooled over observed patches.

    The read-out of :class:`sslts.TSPulseEmbedder` (``embedding="semantic+pooled"``)
    and of the linear head of :class:`sslts.TSPulseClassifier`.

    Parameters
    ----------
    tokens : torch.Tensor
        Decoder tokens ``(batch, channels, 2 * n_patches + n_registers, d_model)``
        (:meth:`TSPulse.encode`).
    observed : torch.Tensor
        Boolean ``(batch, channels, context_length)``: False where a point is
        missing or padded; a patch counts as observed when any of its points is.
    config : TSPulseConfig
        The encoder's configuration.
    pooling : tuple of {"mean", "max"}, default=("mean",)
        Statistics of the time and of the FFT patch tokens, each over the
        observed patches and per token dimension, appended in this order: the
        average, and the maximum (where in the series a pattern occurs does not
        matter to it, as in ROCKET's max pooling). A channel with no observed
        patch pools to zeros.

    Returns
    -------
    torch.Tensor
        ``(batch, channels, (n_registers + 2 * len(pooling)) * d_model)``.
    """
    n = config.n_patches
    seen = observed.unflatten(-1, (n, config.patch_length)).any(-1)[..., None]
    weight = seen.to(tokens.dtype) / seen.sum(-2, keepdim=True).clamp_min(1)
    parts = [tokens[..., part, :] for part in (slice(0, n), slice(n, 2 * n))]
    pooled = []
    for how in pooling:
        for part in parts:
            if how == "mean":
                pooled.append((part * weight).sum(-2))
            elif how == "max":
                peak = part.masked_fill(~seen, -torch.inf).amax(-2)
                pooled.append(torch.where(seen.any(-2), peak, 0.0))
            else:
                raise ValueError(f"pooling must hold names from {POOLINGS}, got {how!r}")
    return torch.cat([tokens[..., 2 * n :, :].flatten(-2), *pooled], dim=-1)


def pooled_readout_width(config: TSPulseConfig, pooling: tuple[str, ...] = ("mean",)) -> int:
    """Width of :func:`pooled_readout` per channel: ``(n_registers + 2 * len(pooling)) * d_model``.

    Parameters
    ----------
    config : TSPulseConfig
        The encoder's configuration.
    pooling : tuple of {"mean", "max"}, default=("mean",)
        The statistics of the patch tokens (:func:`pooled_readout`).

    Returns
    -------
    int
    """
    return (config.n_registers + 2 * len(pooling)) * config.d_model


@init_from_active_generator
class TSPulse(nn.Module):
    """The TSPulse encoder with its reconstruction, spectrum and forecast heads.

    Parameters
    ----------
    config : TSPulseConfig
        Architecture and masking.

    Examples
    --------
    >>> import torch
    >>> from sslts.models import TSPulse, TSPulseConfig
    >>> model = TSPulse(TSPulseConfig(context_length=64, n_layers=1, n_registers=2))
    >>> model.embed(torch.randn(3, 2, 64), kind="semantic").shape
    torch.Size([3, 2, 48])
    """

    def __init__(self, config: TSPulseConfig) -> None:
        super().__init__()
        self.config = config
        cfg = config
        self.revin = RevIN()
        self.time_embedding = nn.Linear(cfg.patch_length, cfg.d_model)
        self.fft_embedding = nn.Linear(cfg.patch_length, cfg.d_model)
        self.mask_token = nn.Parameter(torch.zeros(cfg.d_model))
        self.registers = nn.Parameter(torch.randn(cfg.n_registers, cfg.d_model) * 0.02)
        self.backbone = MixerStack(
            cfg.n_layers, cfg.n_tokens, cfg.d_model, cfg.expansion, cfg.dropout
        )
        self.decoder = MixerStack(
            cfg.n_decoder_layers, cfg.n_tokens, cfg.d_model, cfg.expansion, cfg.dropout
        )
        self.time_head = nn.Linear(cfg.d_model, cfg.patch_length)
        self.fft_head = nn.Linear(cfg.d_model, cfg.patch_length)
        semantic = cfg.n_registers * cfg.d_model
        self.prob_head = nn.Linear(semantic, cfg.context_length // 2)
        self.forecast_head = nn.Linear(semantic, cfg.forecast_length)

    # ------------------------------------------------------------------ encoding
    def _hidden(self, x: torch.Tensor, observed: torch.Tensor | None) -> torch.Tensor:
        """Points the model must not see: unobserved, plus the training mask."""
        hidden = torch.zeros_like(x, dtype=torch.bool) if observed is None else ~observed
        if self.training and (self.config.mask_block_ratio or self.config.mask_point_ratio):
            batch, channels, length = x.shape
            # One mask per series, shared by its channels (as in the paper).
            drawn = mixed_mask(
                batch,
                length,
                self.config.patch_length,
                self.config.mask_block_ratio,
                self.config.mask_point_ratio,
                device=x.device,
                generator=active_generator(x.device),
            )
            hidden = hidden | drawn[:, None, :]
        return hidden

    def _check_input(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3:
            raise ValueError(f"expected (batch, channels, time), got shape {tuple(x.shape)}")
        length = self.config.context_length
        if x.shape[-1] < length:
            raise ValueError(f"series of length {x.shape[-1]} < context_length {length}")
        return x[..., :length]

    def _tokens(
        self, scaled: torch.Tensor, hidden: torch.Tensor
    ) -> tuple[torch.Tensor, FFTFeatures]:
        cfg = self.config
        patches = scaled.unflatten(-1, (cfg.n_patches, cfg.patch_length))
        time_tokens = self.time_embedding(patches)
        fully_hidden = hidden.unflatten(-1, (cfg.n_patches, cfg.patch_length)).all(-1)
        time_tokens = torch.where(fully_hidden[..., None], self.mask_token, time_tokens)
        spectrum = fft_features(scaled)
        fft_tokens = self.fft_embedding(
            spectrum.features.unflatten(-1, (cfg.n_patches, cfg.patch_length))
        )
        registers = self.registers.expand(*scaled.shape[:-1], -1, -1)
        return torch.cat([time_tokens, fft_tokens, registers], dim=-2), spectrum

    def forward(
        self, x: torch.Tensor, observed: torch.Tensor | None = None
    ) -> TSPulseOutput:
        """Reconstruct, predict the spectrum and forecast from a (masked) window.

        Parameters
        ----------
        x : torch.Tensor
            ``(batch, channels, L)`` with ``L >= context_length``; only the
            first ``context_length`` points are read (the rest may hold the
            forecast target). Unobserved points may hold any finite value.
        observed : torch.Tensor, optional
            Boolean, same shape as the context, False where a value is missing
            or padded. In training mode a mixed mask is drawn on top.
        """
        x = self._check_input(x)
        if observed is not None:
            observed = observed[..., : x.shape[-1]]
        hidden = self._hidden(x, observed)
        scaled, loc, scale = self.revin(x, ~hidden)
        tokens, spectrum = self._tokens(scaled, hidden)
        decoded = self._backbone_decoder(tokens)
        return self._heads(decoded, hidden, loc, scale, spectrum)

    def _backbone_decoder(
        self, tokens: torch.Tensor, keep: slice | None = None
    ) -> torch.Tensor:
        """Backbone then decoder on ``(..., tokens, d_model)``; ``keep`` selects tokens.

        Both stacks run token-major on chunks of series (see
        :func:`sslts.models.layers.mix_token_major`), and the last layer mixes
        features only for the kept tokens (feature mixing is per token, so
        the kept tokens come out the same).
        """
        return mix_token_major(tokens, [self.backbone, self.decoder], keep)

    def _heads(
        self,
        decoded: torch.Tensor,
        hidden: torch.Tensor,
        loc: torch.Tensor,
        scale: torch.Tensor,
        spectrum: FFTFeatures,
    ) -> TSPulseOutput:
        cfg = self.config
        n = cfg.n_patches
        time = self.time_head(decoded[..., :n, :]).flatten(-2)
        fft = self.fft_head(decoded[..., n : 2 * n, :]).flatten(-2)
        fft_time = inverse_fft_features(fft, spectrum.real_scale, spectrum.imag_scale)
        semantic = decoded[..., 2 * n :, :].flatten(-2)
        return TSPulseOutput(
            time=time,
            fft=fft,
            fft_time=fft_time,
            prob_logits=self.prob_head(semantic),
            forecast=self.forecast_head(semantic),
            hidden=hidden,
            loc=loc,
            scale=scale,
            spectrum=spectrum,
            tokens=decoded,
        )

    def encode(self, x: torch.Tensor, observed: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder tokens ``(batch, channels, 2 * n_patches + n_registers, d_model)``.

        The first ``2 * n_patches`` tokens are the detail embeddings (time then
        FFT patches), the last ``n_registers`` the semantic embeddings.

        Parameters
        ----------
        x : torch.Tensor
            ``(batch, channels, context_length)`` windows.
        observed : torch.Tensor, optional
            Boolean, same shape: False where ``x`` is missing or padded.
        """
        return self._encode(x, observed)

    def _encode(
        self, x: torch.Tensor, observed: torch.Tensor | None, keep: slice | None = None
    ) -> torch.Tensor:
        x = self._check_input(x)
        if observed is not None:
            observed = observed[..., : x.shape[-1]]
        hidden = self._hidden(x, observed)
        scaled, _, _ = self.revin(x, ~hidden)
        tokens, _ = self._tokens(scaled, hidden)
        return self._backbone_decoder(tokens, keep)

    def embed(
        self,
        x: torch.Tensor,
        observed: torch.Tensor | None = None,
        kind: str = "semantic",
    ) -> torch.Tensor:
        """Flattened embeddings ``(batch, channels, dim)``.

        ``kind`` is ``"semantic"`` (registers, ``n_registers * d_model``),
        ``"detail"`` (patch tokens, ``2 * n_patches * d_model``) or ``"both"``
        (detail then semantic).

        Parameters
        ----------
        x : torch.Tensor
            ``(batch, channels, context_length)`` windows.
        observed : torch.Tensor, optional
            Boolean, same shape: False where ``x`` is missing or padded.
        kind : {"semantic", "detail", "both"}, default="semantic"
            Which tokens to flatten (see above).
        """
        sizes = self.embedding_sizes()
        if kind not in sizes:
            raise ValueError(f"kind must be one of {sorted(sizes)}, got {kind!r}")
        n_detail = 2 * self.config.n_patches
        keep = {"semantic": slice(n_detail, None), "detail": slice(0, n_detail)}.get(kind)
        return self._encode(x, observed, keep).flatten(-2)

    def embedding_sizes(self) -> dict[str, int]:
        """Width of each embedding kind, per channel."""
        cfg = self.config
        semantic = cfg.n_registers * cfg.d_model
        detail = 2 * cfg.n_patches * cfg.d_model
        return {"semantic": semantic, "detail": detail, "both": semantic + detail}
