"""Task heads on top of a pretrained TSPulse backbone.

:class:`TSLens` is the classification head of the TSPulse paper (Ekambaram et
al., 2025, section "TSLens"): instead of pooling the tokens, it

1. runs a mini decoder *initialised from the pretrained decoder* (a copy of
   its weights) over the backbone tokens,
2. mixes channels after every decoder layer (multivariate input only) with
   new layers that start as the identity, so at initialisation the decoder
   output is exactly the pretrained one,
3. reduces the token width (``d_model -> d_model // reduction``) and
   layer-normalises every reduced token (our addition: it keeps the
   classifier's inputs on one scale whatever the backbone's output scale),
4. weighs every patch and register token with a learned, input-dependent
   softmax gate over the token axis (:class:`~sslts.models.layers.GatedAttention`),
5. flattens the weighted tokens of all channels and classifies them linearly.

:class:`TSPulseForClassification` wires the backbone of a :class:`TSPulse`
to a :class:`TSLens` head, draws the fine-tuning mask and decides which parts
train.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from sslts.models._random import active_generator, init_from_active_generator
from sslts.models.layers import FastDropout, GatedAttention, MixerStack, mix_token_major
from sslts.models.masking import mixed_mask
from sslts.models.tspulse import POOLINGS, TSPulse, pooled_readout

__all__ = [
    "ChannelMixer",
    "TSLens",
    "TSPulseForClassification",
    "TSPulseForLinearClassification",
    "FINETUNE_PARTS",
]

#: Values of ``finetune``: what of the encoder trains besides the head, from nothing
#: to everything (see :meth:`TSPulseForClassification.set_trainable`).
FINETUNE_PARTS = ("head", "decoder", "embeddings", "all")


@init_from_active_generator
class ChannelMixer(nn.Module):
    """Residual MLP across channels of ``(batch, channels, tokens, features)``.

    Its output layer starts at zero, so a fresh mixer is the identity map and
    adding it leaves a pretrained channel-independent network unchanged.

    Parameters
    ----------
    n_channels : int
        Channels mixed.
    expansion : int
        Hidden-size multiplier of the MLP.
    """

    def __init__(self, n_channels: int, expansion: int = 2) -> None:
        super().__init__()
        self.fc1 = nn.Linear(n_channels, n_channels * expansion)
        self.fc2 = nn.Linear(n_channels * expansion, n_channels)
        nn.init.zeros_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.movedim(1, -1)  # (batch, tokens, features, channels)
        h = self.fc2(nn.functional.gelu(self.fc1(h)))
        return x + h.movedim(-1, 1)


@init_from_active_generator
class TSLens(nn.Module):
    """TSLens classification head over backbone tokens ``(batch, channels, tokens, d)``.

    Parameters
    ----------
    decoder : MixerStack
        The pretrained mini decoder; the head trains a deep copy of it.
    n_tokens, d_model : int
        Shape of each channel's token matrix.
    n_channels : int
        Input channels; with more than one, a :class:`ChannelMixer` follows
        every decoder layer.
    n_classes : int
        Output logits.
    reduction : int
        Token width is divided by this (at least 1 feature is kept).
    dropout : float
        Dropout before the linear classifier.

    Examples
    --------
    >>> import torch
    >>> from sslts.models import TSPulse, TSPulseConfig
    >>> cfg = TSPulseConfig(context_length=64, d_model=8, n_layers=1, n_registers=2)
    >>> model = TSPulse(cfg)
    >>> head = TSLens(model.decoder, cfg.n_tokens, cfg.d_model, n_channels=3, n_classes=4)
    >>> head(torch.randn(5, 3, cfg.n_tokens, cfg.d_model)).shape
    torch.Size([5, 4])
    """

    def __init__(
        self,
        decoder: MixerStack,
        n_tokens: int,
        d_model: int,
        n_channels: int,
        n_classes: int,
        reduction: int = 2,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.decoder = copy.deepcopy(decoder)
        self.channel_mixers = nn.ModuleList(
            ChannelMixer(n_channels) for _ in range(len(self.decoder) if n_channels > 1 else 0)
        )
        width = max(1, d_model // reduction)
        self.reduce = nn.Linear(d_model, width)
        self.norm = nn.LayerNorm(width)
        self.token_gate = GatedAttention(n_tokens, dim=-2)
        self.dropout = FastDropout(dropout)
        self.classifier = nn.Linear(n_channels * n_tokens * width, n_classes)

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """Decoder layers, each followed by channel mixing: ``(B, C, K, d)`` out.

        Parameters
        ----------
        tokens : torch.Tensor
            Backbone tokens ``(B, C, K, d)``.
        """
        h = tokens
        for i, layer in enumerate(self.decoder):
            h = layer(h)
            if self.channel_mixers:
                h = self.channel_mixers[i](h)
        return h

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Class logits ``(batch, n_classes)`` from backbone tokens."""
        h = self.norm(self.reduce(self.decode(tokens)))
        # The softmax gate over tokens averages to 1 / n_tokens; rescale so an
        # untrained gate passes the tokens through at their own size.
        h = self.token_gate(h) * h.shape[-2]
        return self.classifier(self.dropout(h.flatten(1)))


class _EncoderWithHead(nn.Module):
    """Base of the classification networks: an ``encoder`` of which only the parts named
    by ``finetune`` train; a frozen encoder stays in evaluation mode (no dropout)."""

    encoder: TSPulse
    finetune: str

    def train(self, mode: bool = True) -> _EncoderWithHead:
        """Set training mode; the encoder stays in evaluation mode unless all of it trains.

        Parameters
        ----------
        mode : bool, default=True
            Training mode (True) or evaluation mode.
        """
        super().train(mode)
        if self.finetune != "all":
            self.encoder.eval()
        return self


@init_from_active_generator
class TSPulseForClassification(_EncoderWithHead):
    """A TSPulse backbone with a :class:`TSLens` head: ``(x, observed) -> logits``.

    Parameters
    ----------
    encoder : TSPulse
        Pretrained model; its patch embeddings, registers and backbone are
        used, its decoder initialises the head's decoder, its reconstruction
        heads are not used (and stay frozen).
    n_channels, n_classes : int
        Input channels and classes.
    mask_ratio : float
        Fraction of patches hidden (block mask shared by the channels of a
        series) in training mode, as data augmentation; 0 disables it.
    finetune : {"head", "decoder", "embeddings", "all"}
        What trains besides the head: nothing (``"decoder"`` is the same here:
        the head's decoder, a copy of the pretrained one, always trains), the
        time/FFT patch embeddings (the paper's recipe), or also the registers,
        mask token and backbone.
    reduction, dropout
        Passed to :class:`TSLens`.
    """

    def __init__(
        self,
        encoder: TSPulse,
        n_channels: int,
        n_classes: int,
        mask_ratio: float = 0.3,
        finetune: str = "embeddings",
        reduction: int = 2,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        cfg = encoder.config
        self.encoder = encoder
        self.mask_ratio = mask_ratio
        self.head = TSLens(
            encoder.decoder, cfg.n_tokens, cfg.d_model, n_channels, n_classes, reduction, dropout
        )
        self.set_trainable(finetune)

    def set_trainable(self, finetune: str) -> None:
        """Freeze the encoder except the parts ``finetune`` names; the head always trains.

        Parameters
        ----------
        finetune : {"head", "decoder", "embeddings", "all"}
            What trains besides the head: nothing (``"decoder"`` too: the head
            trains its own copy of the decoder), the time and FFT patch
            embeddings, or the whole encoder.
        """
        _check_finetune(finetune)
        self.finetune = finetune
        enc = self.encoder
        enc.requires_grad_(False)
        if finetune in ("embeddings", "all"):
            enc.time_embedding.requires_grad_(True)
            enc.fft_embedding.requires_grad_(True)
        if finetune == "all":
            enc.backbone.requires_grad_(True)
            enc.mask_token.requires_grad_(True)
            enc.registers.requires_grad_(True)
        self.head.requires_grad_(True)

    def backbone_tokens(
        self, x: torch.Tensor, observed: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Backbone output ``(batch, channels, tokens, d_model)`` before any decoder.

        Parameters
        ----------
        x : torch.Tensor
            ``(batch, channels, context_length)`` windows.
        observed : torch.Tensor, optional
            Boolean, same shape: False where ``x`` is missing or padded.
        """
        enc = self.encoder
        context = enc.config.context_length
        if x.ndim != 3 or x.shape[-1] != context:
            raise ValueError(
                f"expected (batch, channels, {context}) windows, got shape {tuple(x.shape)}"
            )
        hidden = torch.zeros_like(x, dtype=torch.bool) if observed is None else ~observed
        if self.training and self.mask_ratio > 0:
            drawn = _training_mask(x, self.mask_ratio, enc.config.patch_length)
            hidden = hidden | drawn[:, None, :]
        scaled, _, _ = enc.revin(x, ~hidden)
        tokens, _ = enc._tokens(scaled, hidden)
        return enc.backbone(tokens)

    def forward(self, x: torch.Tensor, observed: torch.Tensor | None = None) -> torch.Tensor:
        """Class logits ``(batch, n_classes)`` for context windows ``x``."""
        return self.head(self.backbone_tokens(x, observed))


def _check_finetune(finetune: str) -> None:
    if finetune not in FINETUNE_PARTS:
        raise ValueError(f"finetune must be one of {list(FINETUNE_PARTS)}, got {finetune!r}")


def _training_mask(x: torch.Tensor, ratio: float, patch_length: int) -> torch.Tensor:
    """Hidden patches ``(batch, length)`` drawn as augmentation, one mask per series."""
    return mixed_mask(
        x.shape[0],
        x.shape[-1],
        patch_length,
        ratio,
        0.0,
        device=x.device,
        generator=active_generator(x.device),
    )


@init_from_active_generator
class TSPulseForLinearClassification(_EncoderWithHead):
    """TSPulse read out as :class:`sslts.TSPulseEmbedder` does, then one linear layer.

    ``forward(x, observed)`` takes ``(batch, phases * views, channels,
    context_length)`` windows (for each patch phase of a series, one window
    per view, :mod:`sslts.data.views`) and returns logits. Per channel and
    view, the features are the decoder's register tokens, its time and FFT
    patch tokens pooled over the observed patches by each statistic of
    ``pooling`` (:func:`sslts.models.tspulse.pooled_readout`) and the window's
    location and log-scale, averaged over the phases; channels are
    concatenated in order, each holding its views in order (the layout of
    ``TSPulseEmbedder``'s output, whose ``patch_phases`` the phases are). The features are
    standardised with fixed statistics (:meth:`set_probe`) before the linear
    layer, which :meth:`set_probe` also initialises, so that training can
    start from a fitted linear probe.

    Parameters
    ----------
    encoder : TSPulse
        Pretrained model; its reconstruction heads are not used.
    n_features : int
        Width of the read-out (``n_channels * n_views * ((n_registers + 2 *
        len(pooling)) * d_model + 2)``).
    n_classes : int
        Output logits.
    pooling : tuple of {"mean", "max"}, default=("mean", "max")
        Statistics of the patch tokens over the observed patches.
    n_phases : int, default=1
        Patch phases in the second axis of the input, each holding every view;
        their features are averaged.
    mask_ratio : float, default=0.0
        Fraction of patches hidden in training mode (augmentation); 0 disables it.
    finetune : {"head", "decoder", "embeddings", "all"}, default="decoder"
        What of the encoder trains besides the linear layer: nothing, its
        mini decoder, the decoder and the time and FFT patch embeddings, or
        everything.
    l2 : float, default=0.0
        Weight of the squared norm of the linear weights in :meth:`penalty`.

    Examples
    --------
    >>> import torch
    >>> from sslts.models import TSPulse, TSPulseConfig
    >>> cfg = TSPulseConfig(context_length=64, d_model=8, n_layers=1, n_registers=2)
    >>> width = (cfg.n_registers + 4) * cfg.d_model + 2  # mean and max pooling
    >>> head = TSPulseForLinearClassification(TSPulse(cfg), 3 * 2 * width, n_classes=4)
    >>> head(torch.randn(5, 2, 3, 64)).shape  # 5 series, 2 views, 3 channels
    torch.Size([5, 4])
    """

    def __init__(
        self,
        encoder: TSPulse,
        n_features: int,
        n_classes: int,
        pooling: tuple[str, ...] = POOLINGS,
        n_phases: int = 1,
        mask_ratio: float = 0.0,
        finetune: str = "decoder",
        l2: float = 0.0,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.pooling = tuple(pooling)
        self.n_phases = n_phases
        self.mask_ratio = mask_ratio
        self.l2 = l2
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))
        self.classifier = nn.Linear(n_features, n_classes)
        self.set_trainable(finetune)

    def set_trainable(self, finetune: str) -> None:
        """Freeze the encoder except the parts ``finetune`` names; the linear layer trains.

        Parameters
        ----------
        finetune : {"head", "decoder", "embeddings", "all"}
            Nothing, the decoder, the decoder and the patch embeddings, or the
            whole encoder.
        """
        _check_finetune(finetune)
        self.finetune = finetune
        enc = self.encoder
        enc.requires_grad_(finetune == "all")
        if finetune in ("decoder", "embeddings"):
            enc.decoder.requires_grad_(True)
        if finetune == "embeddings":
            enc.time_embedding.requires_grad_(True)
            enc.fft_embedding.requires_grad_(True)
        self.classifier.requires_grad_(True)

    def features(self, x: torch.Tensor, observed: torch.Tensor | None = None) -> torch.Tensor:
        """Raw (unstandardised) read-out ``(batch, n_features)``.

        Parameters
        ----------
        x : torch.Tensor
            ``(batch, phases * views, channels, context_length)`` windows.
        observed : torch.Tensor, optional
            Boolean, same shape: False where ``x`` is missing or padded.
        """
        enc = self.encoder
        cfg = enc.config
        if x.ndim != 4 or x.shape[-1] != cfg.context_length or x.shape[1] % self.n_phases:
            raise ValueError(
                f"expected (batch, {self.n_phases} phases * views, channels, "
                f"{cfg.context_length}) windows, got shape {tuple(x.shape)}"
            )
        batch, views = x.shape[0], x.shape[1] // self.n_phases
        x = x.flatten(0, 1)
        observed = (
            torch.ones_like(x, dtype=torch.bool) if observed is None else observed.flatten(0, 1)
        )
        hidden = ~observed
        if self.training and self.mask_ratio > 0:
            hidden = hidden | _training_mask(x, self.mask_ratio, cfg.patch_length)[:, None, :]
        scaled, _, _ = enc.revin(x, ~hidden)
        tokens, _ = enc._tokens(scaled, hidden)
        decoded = mix_token_major(tokens, [enc.backbone, enc.decoder])
        readout = pooled_readout(decoded, observed, cfg, self.pooling)
        loc, scale = enc.revin.statistics(x, observed)
        per_view = torch.cat([readout, loc, scale.log()], dim=-1)
        per_view = per_view.unflatten(0, (batch, self.n_phases, views)).mean(1)
        # (batch, views, channels, width) -> per channel, its views in order
        return per_view.transpose(1, 2).flatten(1)

    def set_probe(
        self, mean: torch.Tensor, scale: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor
    ) -> None:
        """Set the standardisation and the linear layer (e.g. from a fitted linear probe).

        Parameters
        ----------
        mean, scale : torch.Tensor
            ``(n_features,)``: features are standardised as ``(f - mean) / scale``.
        weight, bias : torch.Tensor
            ``(n_classes, n_features)`` and ``(n_classes,)``.
        """
        with torch.no_grad():
            self.mean.copy_(mean)
            self.scale.copy_(scale)
            self.classifier.weight.copy_(weight)
            self.classifier.bias.copy_(bias)

    def penalty(self) -> torch.Tensor:
        """``l2`` times the squared norm of the linear weights (not the bias)."""
        return self.l2 * self.classifier.weight.pow(2).sum()

    def forward(self, x: torch.Tensor, observed: torch.Tensor | None = None) -> torch.Tensor:
        """Class logits ``(batch, n_classes)`` for the views' windows ``x``."""
        return self.classifier((self.features(x, observed) - self.mean) / self.scale)
