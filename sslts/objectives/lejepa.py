"""LeJEPA for time series: two wavelet views, invariance plus SIGReg, no predictor, no EMA.

Following Balestriero & LeCun (2025, "LeJEPA") and its time-series port in
"Quantifying the Pre-training Dividend" (SCIENCE.md section 4): each series is
augmented twice (:func:`sslts.augment.lejepa_views`, DWT soft thresholding vs
detail perturbation), both views are embedded by the same encoder, and the
loss is

``(1 - lambda) * MSE(z1, z2) + lambda * (SIGReg(z1) + SIGReg(z2)) / 2``

where SIGReg (:func:`sigreg`) is the Epps-Pulley goodness-of-fit statistic
of random one-dimensional projections of the batch embeddings against a
standard normal. Pushing every projection towards N(0, 1) makes the
embedding distribution isotropic Gaussian, which rules out collapse without
a teacher, a stop-gradient or a predictor.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from skorch.callbacks import Callback
from torch import nn
from torch.nn import functional as F

from sslts.augment import lejepa_views
from sslts.models._random import active_generator, init_from_active_generator
from sslts.models.latent_heads import ProjectionHead
from sslts.objectives._registry import Objective, register_objective, wrap_encoder
from sslts.objectives._views import numpy_rng, view
from sslts.training.monitoring import CollapseMonitor

__all__ = [
    "SIGREG_NORMAL_MEAN",
    "LeJEPA",
    "LeJEPALosses",
    "LeJEPAObjective",
    "LeJEPAOutput",
    "sigreg",
]


def sigreg(
    z: torch.Tensor,
    n_projections: int = 256,
    n_knots: int = 17,
    t_max: float = 5.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Sketched isotropic-Gaussian regulariser: the Epps-Pulley statistic on random slices.

    The rows of ``z`` (samples) are projected on ``n_projections`` random
    unit directions. For each projection ``p`` the empirical characteristic
    function ``phi_n(t) = mean_i exp(i t p_i)`` is compared with the standard
    normal's ``exp(-t^2 / 2)``:

    ``EP = n * integral |phi_n(t) - exp(-t^2/2)|^2 exp(-t^2/2) dt``

    integrated by the trapezoid rule on ``n_knots`` points of
    ``[-t_max, t_max]``; the result is the mean over projections. For ``n``
    samples of a standard normal its expectation is about
    ``sqrt(2 pi) - sqrt(2 pi / 3) = 1.06`` whatever ``n``; for a collapsed
    (constant or low-rank) batch it grows linearly with ``n``. Computed in
    float32 and differentiable in ``z``.

    Parameters
    ----------
    z : Tensor of shape (..., d)
        Embeddings; all leading dimensions are samples.
    n_projections : int, default 256
        Number of random directions (drawn from ``generator`` or torch's
        global generator).
    n_knots : int, default 17
        Quadrature points.
    t_max : float, default 5.0
        Integration range ``[-t_max, t_max]``.
    generator : torch.Generator, optional
        Source of the directions.

    Returns
    -------
    Tensor
        Scalar statistic.

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> normal = torch.randn(512, 16, generator=g)
    >>> bool(sigreg(normal, generator=g) < 2.0)
    True
    >>> bool(sigreg(torch.ones(512, 16), generator=g) > 100.0)
    True
    """
    if n_projections < 1 or n_knots < 2 or not t_max > 0:
        raise ValueError(
            f"need n_projections >= 1, n_knots >= 2, t_max > 0; got "
            f"{n_projections}, {n_knots}, {t_max}"
        )
    z = z.reshape(-1, z.shape[-1]).float()
    n, d = z.shape
    directions = torch.randn(d, n_projections, generator=generator, device="cpu").to(z.device)
    directions = directions / directions.norm(dim=0, keepdim=True)
    t = torch.linspace(-t_max, t_max, n_knots, device=z.device)
    gauss = torch.exp(-0.5 * t**2)
    angle = (z @ directions).unsqueeze(-1) * t  # (n, M, K)
    real = torch.cos(angle).mean(0) - gauss
    imag = torch.sin(angle).mean(0)
    step = 2 * t_max / (n_knots - 1)
    trapezoid = torch.full_like(t, step)
    trapezoid[[0, -1]] = step / 2
    statistic = ((real**2 + imag**2) * gauss * trapezoid).sum(-1) * n
    return statistic.mean()


#: Expected :func:`sigreg` of standard normal samples (the statistic's floor).
SIGREG_NORMAL_MEAN = math.sqrt(2 * math.pi) - math.sqrt(2 * math.pi / 3)


class LeJEPAOutput(NamedTuple):
    """Embeddings (or projections) of the two views, each ``(B * C, d)``.

    Parameters
    ----------
    z1 : torch.Tensor
        The first view's.
    z2 : torch.Tensor
        The second view's.
    """

    z1: torch.Tensor
    z2: torch.Tensor


@init_from_active_generator
class LeJEPA(nn.Module):
    """An encoder, an optional projector and the two LeJEPA views.

    ``forward(x, observed)`` augments the batch twice, embeds both views
    channel by channel with ``encoder.embed`` (every channel of every series
    is one sample), and projects them when a projector is configured.

    Channel dropout is off by default (``channel_p=0``): with a
    channel-independent encoder a dropped channel is a zero series whose
    embedding the invariance term would pull every real series towards.

    Parameters
    ----------
    encoder : nn.Module
        A :class:`sslts.models.PatchEncoder` (any module with
        ``embed(x, observed) -> (B, C, d)`` and ``config.d_model``).
    projection_dim : int or None, default None
        Size of an MLP projector on the embeddings; None applies the loss to
        the embeddings themselves (as the reference does).
    projection_hidden : int, default 256
        Hidden width of the projector.
    p, dwt_p : float, default 0.5
        Per-sample probabilities of the simple steps and of the DWT step of
        :func:`sslts.augment.lejepa_views`.
    channel_p : float, default 0.0
        Channel-dropout probability (see above).
    """

    def __init__(
        self,
        encoder: nn.Module,
        projection_dim: int | None = None,
        projection_hidden: int = 256,
        p: float = 0.5,
        dwt_p: float = 0.5,
        channel_p: float = 0.0,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        d_model = encoder.config.d_model
        self.projector = (
            None
            if projection_dim is None
            else ProjectionHead(d_model, projection_hidden, projection_dim)
        )
        self.views = lejepa_views(p=p, dwt_p=dwt_p, channel_p=channel_p)

    def _embed(self, x: torch.Tensor, observed: torch.Tensor | None) -> torch.Tensor:
        z = self.encoder.embed(x, observed)
        z = z.reshape(-1, z.shape[-1])
        return z if self.projector is None else self.projector(z)

    def forward(self, x: torch.Tensor, observed: torch.Tensor | None = None) -> LeJEPAOutput:
        """Two augmented views of ``x`` ``(B, C, T)``, embedded: ``(B * C, d)`` each."""
        rng = numpy_rng()
        first, second = (view(pipeline, x, rng) for pipeline in self.views)
        return LeJEPAOutput(self._embed(first, observed), self._embed(second, observed))


class LeJEPALosses(NamedTuple):
    """The weighted total, the invariance MSE and the mean SIGReg of the two views.

    Parameters
    ----------
    total : torch.Tensor
        ``(1 - lambda) * invariance + lambda * sigreg``.
    invariance : torch.Tensor
        Mean squared difference of the two views' embeddings.
    sigreg : torch.Tensor
        Mean of the two views' SIGReg statistics.
    """

    total: torch.Tensor
    invariance: torch.Tensor
    sigreg: torch.Tensor


class LeJEPAObjective:
    """``(1 - lambda) * MSE(z1, z2) + lambda * mean(SIGReg(z1), SIGReg(z2))``.

    A plain callable for :class:`sslts.training.PretrainNet`. The SIGReg
    directions are drawn fresh each batch, from the fit's generator
    (:func:`sslts.models._random.active_generator`; torch's global one
    outside a fit).

    Parameters
    ----------
    lambda_sigreg : float, default 0.05
        Weight of SIGReg in ``(0, 1)`` (LeJEPA's default; the time-series
        reference uses 0.008).
    n_projections : int, default 256
        Random directions per batch.
    n_knots : int, default 17
        Quadrature points on ``[-t_max, t_max]``.
    t_max : float, default 5.0
        Integration range.
    """

    def __init__(
        self,
        lambda_sigreg: float = 0.05,
        n_projections: int = 256,
        n_knots: int = 17,
        t_max: float = 5.0,
    ) -> None:
        if not 0.0 < lambda_sigreg < 1.0:
            raise ValueError(f"lambda_sigreg must be in (0, 1), got {lambda_sigreg}")
        self.lambda_sigreg = lambda_sigreg
        self.n_projections = n_projections
        self.n_knots = n_knots
        self.t_max = t_max

    def __call__(self, output: LeJEPAOutput, **batch: torch.Tensor) -> LeJEPALosses:
        """Losses of one batch (``batch`` holds the inputs and is unused)."""
        invariance = F.mse_loss(output.z1, output.z2)
        generator = active_generator()  # sigreg draws its directions on the CPU
        reg = 0.5 * sum(
            sigreg(z, self.n_projections, self.n_knots, self.t_max, generator)
            for z in output
        )
        lam = self.lambda_sigreg
        return LeJEPALosses((1 - lam) * invariance + lam * reg, invariance, reg)


def _callbacks(module: LeJEPA) -> list[tuple[str, Callback]]:
    """Effective rank of the first view's embeddings, per epoch."""
    return [("collapse", CollapseMonitor(probabilities=None, embeddings="z1"))]


register_objective(
    Objective(
        name="lejepa",
        module=LeJEPA,
        build=wrap_encoder(LeJEPA),
        criterion=LeJEPAObjective,
        losses=LeJEPALosses,
        callbacks=_callbacks,
    )
)
