"""Building blocks shared by the sslts encoders: RevIN and TSMixer layers.

Every module here is plain :mod:`torch`; tensors carry channels as a batch-like
dimension, so ``(batch, channels, tokens, features)`` flows through unchanged
(channel-independent encoding).

:class:`MixerStack` runs its layers in a *token-major* layout ``(tokens,
series, features)`` (:func:`mix_token_major`), in training as in inference:
there every token-mixing product is one large 2D matrix product ``W @ X`` with
``X`` of shape ``(tokens, series * features)`` and every feature-mixing
product one large ``X @ W.T`` over ``(tokens * series, features)``, with no
transposes or broadcast copies between layers. The arithmetic is that of
:meth:`MixerLayer.forward` on ``(..., tokens, features)`` (the reference the
tests compare with); only the layout differs, so dropout masks land on other
elements than they would there (same distribution). On a 2-core CPU a
training step of the r1-like model is about 1.2 times as fast this way.

Dropout (:class:`FastDropout`, and the attention dropout of
:class:`GeneratorMultiheadAttention`) draws from the generator of the running
fit (:mod:`sslts.models._random`); :func:`use_generator_dropout` converts
torch's own Transformer layers to them.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from sslts.models._random import active_generator, init_from_active_generator

__all__ = [
    "FastDropout",
    "GatedAttention",
    "GeneratorMultiheadAttention",
    "MixerLayer",
    "MixerStack",
    "RevIN",
    "fast_dropout",
    "mix_token_major",
    "use_generator_dropout",
]


def fast_dropout(
    x: torch.Tensor,
    p: float,
    generator: torch.Generator | None = None,
    inplace: bool = False,
) -> torch.Tensor:
    """Training-mode dropout of ``x`` with 16 random bits per element (see :class:`FastDropout`).

    Parameters
    ----------
    x : torch.Tensor
        Any shape and device.
    p : float
        Probability of zeroing an element, in ``[0, 1]``.
    generator : torch.Generator, optional
        Random source on ``x``'s device (torch's global generator when None).
    inplace : bool, default=False
        Scale ``x`` itself.

    Returns
    -------
    torch.Tensor
        ``x`` with the dropped elements zero and the kept ones scaled by
        ``1 / (1 - p)``.
    """
    if p >= 1.0:
        return x.mul_(0.0) if inplace else x * 0.0
    n = x.numel()
    bits = torch.empty((n + 3) // 4, dtype=torch.int64, device=x.device)
    bits = bits.random_(-(2**63), 2**63 - 1, generator=generator)
    bits = bits.view(torch.int16)[:n].view(x.shape)
    keep = bits >= round(p * 65536) - 32768
    scale = keep.to(x.dtype) * (1.0 / (1.0 - p))
    return x.mul_(scale) if inplace else x * scale


class FastDropout(nn.Dropout):
    """Dropout whose CPU mask costs a third of :class:`torch.nn.Dropout`'s.

    On the CPU, drawing torch's Bernoulli mask is the most expensive operation
    of a TSPulse training step (about 28% of it at the r1-like size: one
    random double per element). Here every element gets 16 random bits, four
    per 64-bit word drawn from a generator, and is kept when they clear
    ``p`` quantised to 1/65536; kept values are scaled by ``1 / (1 - p)`` as in
    :class:`torch.nn.Dropout` (:func:`fast_dropout`).

    Inside a fit the bits come from the fit's generator
    (:func:`sslts.models._random.active_generator`) on every device, so
    fits running in parallel threads do not share a random stream. Outside
    a fit the generator is torch's global one (``torch.manual_seed`` makes
    it reproducible), and on other devices than the CPU, and with
    ``inplace=True``, it is plain :func:`torch.nn.functional.dropout`.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        generator = active_generator(x.device)
        if generator is None and (x.device.type != "cpu" or self.inplace or self.p >= 1.0):
            return F.dropout(x, self.p, True, self.inplace)
        return fast_dropout(x, self.p, generator, self.inplace)


class GeneratorMultiheadAttention(nn.MultiheadAttention):
    """:class:`torch.nn.MultiheadAttention` whose attention dropout draws from the fit's generator.

    torch's attention draws its dropout mask from the global generator, with
    no way to pass another. In training, with ``dropout > 0`` and inside a
    fit (:func:`sslts.models._random.active_generator`), this class computes
    the same attention itself (scaled dot products, masks, softmax) and
    drops attention weights with :func:`fast_dropout` on the fit's
    generator. Everywhere else (evaluation, no dropout, outside a fit, the
    rarely used ``add_bias_kv``/``add_zero_attn``/``kdim``/``vdim`` options)
    it is :class:`torch.nn.MultiheadAttention` itself, fast paths included.
    It has no state of its own: parameters and checkpoints are those of
    :class:`torch.nn.MultiheadAttention`.
    """

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        need_weights: bool = True,
        attn_mask: torch.Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        generator = active_generator(query.device)
        plain = (
            not self._qkv_same_embed_dim or self.bias_k is not None or self.add_zero_attn
        )
        if generator is None or not self.training or self.dropout == 0.0 or plain:
            return super().forward(
                query,
                key,
                value,
                key_padding_mask=key_padding_mask,
                need_weights=need_weights,
                attn_mask=attn_mask,
                average_attn_weights=average_attn_weights,
                is_causal=is_causal,
            )
        # ``is_causal`` is only a hint that ``attn_mask`` is causal: the mask is used.
        batched = query.dim() == 3
        batch_dim = 0 if self.batch_first else 1
        if not batched:
            query, key, value = (t.unsqueeze(batch_dim) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        if not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        out, weights = self._attend(query, key, value, key_padding_mask, attn_mask, generator)
        if not self.batch_first:
            out = out.transpose(0, 1)
        if not batched:
            out, weights = out.squeeze(batch_dim), weights.squeeze(0)
        if not need_weights:
            return out, None
        return out, weights.mean(1) if average_attn_weights else weights

    def _attend(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_padding_mask: torch.Tensor | None,
        attn_mask: torch.Tensor | None,
        generator: torch.Generator,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch-first attention with dropped weights: ``(output, weights per head)``."""
        n, length, width = query.shape
        source, heads, size = key.shape[1], self.num_heads, self.head_dim
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        b_q, b_k, b_v = (
            (None, None, None) if self.in_proj_bias is None else self.in_proj_bias.chunk(3)
        )
        q = F.linear(query, w_q, b_q).view(n, length, heads, size).transpose(1, 2)
        k = F.linear(key, w_k, b_k).view(n, source, heads, size).transpose(1, 2)
        v = F.linear(value, w_v, b_v).view(n, source, heads, size).transpose(1, 2)
        scores = (q * size**-0.5) @ k.transpose(-2, -1)  # (n, heads, length, source)
        masks = []
        if attn_mask is not None:
            per_head = attn_mask.dim() == 3  # (n * heads, length, source)
            masks.append(attn_mask.view(n, heads, length, source) if per_head else attn_mask)
        if key_padding_mask is not None:
            masks.append(key_padding_mask[:, None, None, :])
        for mask in masks:
            if mask.dtype == torch.bool:
                scores = scores.masked_fill(mask, float("-inf"))
            else:
                scores = scores + mask.to(scores.dtype)
        weights = fast_dropout(torch.softmax(scores, dim=-1), self.dropout, generator)
        out = (weights @ v).transpose(1, 2).reshape(n, length, width)
        return self.out_proj(out), weights


def use_generator_dropout(module: nn.Module) -> nn.Module:
    """Make the dropout of torch's layers inside ``module`` draw from the fit's generator.

    Every :class:`torch.nn.Dropout` (e.g. of a ``TransformerEncoderLayer``)
    is replaced by a :class:`FastDropout` of the same ``p``, and every
    :class:`torch.nn.MultiheadAttention` becomes a
    :class:`GeneratorMultiheadAttention` (same parameters, same state dict).

    Parameters
    ----------
    module : torch.nn.Module
        Changed in place.

    Returns
    -------
    torch.nn.Module
        ``module``.
    """
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Dropout:
                setattr(parent, name, FastDropout(child.p, child.inplace))
            elif type(child) is nn.MultiheadAttention:
                # a behaviour-only subclass: no state to add or convert
                child.__class__ = GeneratorMultiheadAttention
    return module


class RevIN(nn.Module):
    """Reversible instance normalisation over the time axis, aware of a mask.

    Statistics are computed per series from the *visible* points only
    (``visible`` is True where a value is observed and not masked), so padding,
    missing values and training masks never leak into the scale.

    Parameters
    ----------
    eps : float
        Added to the variance.
    min_scale : float
        Lower bound of the scale, which keeps constant series finite.
    """

    def __init__(self, eps: float = 1e-5, min_scale: float = 1e-3) -> None:
        super().__init__()
        self.eps = eps
        self.min_scale = min_scale

    def statistics(
        self, x: torch.Tensor, visible: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Location and scale of shape ``(..., 1)`` from the visible points of ``x``."""
        weight = visible.to(x.dtype)
        count = weight.sum(-1, keepdim=True).clamp_min(1.0)
        loc = (x * weight).sum(-1, keepdim=True) / count
        var = (((x - loc) * weight) ** 2).sum(-1, keepdim=True) / count
        scale = torch.sqrt(var + self.eps).clamp_min(self.min_scale)
        return loc, scale

    def forward(
        self, x: torch.Tensor, visible: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return ``(x_scaled, loc, scale)``; hidden points are set to zero."""
        loc, scale = self.statistics(x, visible)
        scaled = torch.where(visible, (x - loc) / scale, torch.zeros_like(x))
        return scaled, loc, scale


@init_from_active_generator
class GatedAttention(nn.Module):
    """Multiply the input by a softmax gate computed from it over ``dim``.

    Parameters
    ----------
    size : int
        Size of the gated dimension.
    dim : int
        ``-1`` gates features (a ``Linear`` over the last axis); ``-2`` gates
        tokens (a matrix applied from the left, which avoids transposes).
    """

    def __init__(self, size: int, dim: int = -1) -> None:
        super().__init__()
        if dim not in (-1, -2):
            raise ValueError(f"dim must be -1 or -2, got {dim}")
        self.dim = dim
        self.gate = nn.Linear(size, size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.dim == -1:
            logits = self.gate(x)
        else:
            logits = torch.matmul(self.gate.weight, x) + self.gate.bias[:, None]
        return x * torch.softmax(logits, dim=self.dim)


@init_from_active_generator
class _TokenMLP(nn.Module):
    """Two-layer MLP over the token axis of ``(..., tokens, features)``.

    Implemented as left matrix products so no transpose or copy is needed.
    """

    def __init__(self, n_tokens: int, expansion: int, dropout: float) -> None:
        super().__init__()
        hidden = n_tokens * expansion
        self.fc1 = nn.Linear(n_tokens, hidden)
        self.fc2 = nn.Linear(hidden, n_tokens)
        self.dropout = FastDropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.matmul(self.fc1.weight, x) + self.fc1.bias[:, None]
        h = self.dropout(nn.functional.gelu(h))
        return torch.matmul(self.fc2.weight, h) + self.fc2.bias[:, None]


@init_from_active_generator
class _FeatureMLP(nn.Module):
    """Two-layer MLP over the feature axis."""

    def __init__(self, n_features: int, expansion: int, dropout: float) -> None:
        super().__init__()
        self.fc1 = nn.Linear(n_features, n_features * expansion)
        self.fc2 = nn.Linear(n_features * expansion, n_features)
        self.dropout = FastDropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.dropout(nn.functional.gelu(self.fc1(x))))


@init_from_active_generator
class MixerLayer(nn.Module):
    """One TSMixer layer: token mixing then feature mixing, each gated and residual.

    Parameters
    ----------
    n_tokens, n_features : int
        Shape of the token matrix the layer mixes.
    expansion : int
        Hidden-size multiplier of both MLPs.
    dropout : float
        Dropout inside the MLPs and on their outputs.
    """

    def __init__(
        self, n_tokens: int, n_features: int, expansion: int = 2, dropout: float = 0.1
    ) -> None:
        super().__init__()
        self.token_norm = nn.LayerNorm(n_features)
        self.token_mlp = _TokenMLP(n_tokens, expansion, dropout)
        self.token_gate = GatedAttention(n_tokens, dim=-2)
        self.feature_norm = nn.LayerNorm(n_features)
        self.feature_mlp = _FeatureMLP(n_features, expansion, dropout)
        self.feature_gate = GatedAttention(n_features, dim=-1)
        self.dropout = FastDropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.token_gate(self.token_mlp(self.token_norm(x)))
        x = x + self.dropout(h)
        h = self.feature_gate(self.feature_mlp(self.feature_norm(x)))
        return x + self.dropout(h)

    def forward_token_major(
        self, x: torch.Tensor, keep: slice | None = None
    ) -> torch.Tensor:
        """The same layer on token-major input ``(tokens, series, features)``.

        ``x`` must be contiguous. Token mixing is done as 2D products
        ``W @ X`` on the ``(tokens, series * features)`` view, feature mixing
        as 2D products ``X @ W.T`` on the ``(tokens * series, features)``
        view. ``keep`` (a slice of tokens) restricts the feature-mixing half,
        which is per token, to the tokens the caller will read; the result
        then has only those tokens. Temporaries are updated in place when
        autograd is off.
        """
        n_tokens, n_series, n_features = x.shape
        inplace = not torch.is_grad_enabled()
        # Token mixing: (tokens, series * features), weights applied from the left.
        mlp, gate = self.token_mlp, self.token_gate.gate
        h = self.token_norm(x).view(n_tokens, n_series * n_features)
        h = torch.addmm(mlp.fc1.bias[:, None], mlp.fc1.weight, h)
        h = mlp.dropout(F.gelu(h))
        h = torch.addmm(mlp.fc2.bias[:, None], mlp.fc2.weight, h)
        g = torch.softmax(torch.addmm(gate.bias[:, None], gate.weight, h), dim=0)
        h = g.mul_(h) if inplace else g * h
        x = x + self.dropout(h.view(x.shape))
        if keep is not None:
            x = x[keep]
        # Feature mixing: (tokens * series, features), weights applied from the right.
        shape = x.shape
        x = x.reshape(-1, n_features)
        mlp, gate = self.feature_mlp, self.feature_gate.gate
        h = torch.addmm(mlp.fc1.bias, self.feature_norm(x), mlp.fc1.weight.t())
        h = mlp.dropout(F.gelu(h))
        h = torch.addmm(mlp.fc2.bias, h, mlp.fc2.weight.t())
        # in float32: a bfloat16 softmax over a few features is 4x slower on the CPU
        g = torch.softmax(torch.addmm(gate.bias, h, gate.weight.t()).float(), dim=-1)
        h = self.dropout(g.mul_(h) if inplace else g * h)
        # under autocast h is bfloat16: the sum goes to x's dtype, so the
        # residual stream (and the next layer norm) stays in float32
        return (h.add_(x) if inplace and h.dtype == x.dtype else h + x).view(shape)


# On the CPU, token-major mixing works on chunks of series whose token
# matrix has about this many elements per intra-op thread: the intermediates of
# a layer then stay in cache, and the allocator reuses freed blocks instead of
# handing large buffers back to the OS and page-faulting them in again on every
# product. More threads get larger chunks, so that there are fewer parallel
# regions to synchronise (each costs a scheduler time slice when the machine is
# oversubscribed).
_CHUNK_ELEMENTS_PER_THREAD = 1 << 18


def _series_per_chunk(x: torch.Tensor, n_series: int, token_elements: int) -> int:
    if x.device.type != "cpu":
        return n_series
    budget = _CHUNK_ELEMENTS_PER_THREAD * torch.get_num_threads()
    n_chunks = -(-n_series // max(1, budget // token_elements))
    return -(-n_series // n_chunks)  # equal chunks


def mix_token_major(
    x: torch.Tensor, stacks: list[MixerStack], keep: slice | None = None
) -> torch.Tensor:
    """Apply ``stacks`` in order to ``(..., tokens, features)``, token-major.

    Series (all leading dimensions) are processed in chunks (on the CPU; one
    chunk elsewhere), each transposed to a contiguous ``(tokens, chunk,
    features)`` block and run through every stack before the next chunk
    starts. ``keep`` (a slice of tokens) is handed to the last stack. Returns
    a contiguous ``(..., kept tokens, features)``.
    """
    *leading, n_tokens, n_features = x.shape
    flat = x.reshape(-1, n_tokens, n_features)
    n_series = flat.shape[0]
    if n_series == 0:
        n_out = n_tokens if keep is None else len(range(n_tokens)[keep])
        return x.new_empty(*leading, n_out, n_features)
    step = _series_per_chunk(x, n_series, n_tokens * n_features)
    out = None
    for start in range(0, n_series, step):
        chunk = flat[start : start + step].transpose(0, 1).contiguous()
        for i, stack in enumerate(stacks):
            last = i == len(stacks) - 1
            chunk = stack.forward_token_major(chunk, keep if last else None)
        if out is None:
            out = chunk.new_empty(n_series, chunk.shape[0], n_features)
        out[start : start + step] = chunk.transpose(0, 1)
    return out.view(*leading, out.shape[1], n_features)


@init_from_active_generator
class MixerStack(nn.Sequential):
    """A sequence of :class:`MixerLayer` of one shape.

    The layers run token-major (:func:`mix_token_major`, see the module
    docstring); the result is that of calling the layers in turn, up to
    floating-point rounding (and the placement of dropout masks).
    """

    def __init__(
        self,
        n_layers: int,
        n_tokens: int,
        n_features: int,
        expansion: int = 2,
        dropout: float = 0.1,
    ) -> None:
        super().__init__(
            *(
                MixerLayer(n_tokens, n_features, expansion, dropout)
                for _ in range(n_layers)
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(self) == 0:
            return x
        return mix_token_major(x, [self])

    def forward_token_major(
        self, x: torch.Tensor, keep: slice | None = None
    ) -> torch.Tensor:
        """Run all layers on contiguous token-major ``(tokens, series, features)``.

        ``keep`` is passed to the last layer (see
        :meth:`MixerLayer.forward_token_major`).
        """
        if len(self) == 0:
            return x if keep is None else x[keep]
        last = len(self) - 1
        for i, layer in enumerate(self):
            x = layer.forward_token_major(x, keep if i == last else None)
        return x
