"""DINO for time series: self-distillation from an EMA teacher with wavelet views.

Following Caron et al. (2021, "DINO") and its time-series port in
"Quantifying the Pre-training Dividend" (SCIENCE.md section 4). A student
(encoder + :class:`~sslts.models.DINOHead`) sees two global views and
``n_local`` shorter local crops of every series
(:func:`sslts.augment.dino_views`); a teacher of the same architecture, an
exponential moving average of the student (the EMA callback of
:mod:`sslts.training`), sees the global views only. The student's softmax
at temperature ``tau_s`` is trained to match the teacher's *centred* and
*sharpened* softmax (temperature ``tau_t < tau_s``) on every pair of
different views:

``H(P_t(g_i), P_s(v_j)) averaged over i in globals, j in all views, j != i``.

Centring (subtracting an EMA of the teacher's batch-mean logits) keeps one
prototype from dominating; sharpening keeps the teacher from going uniform;
together they prevent collapse. Local crops are shorter windows (fewer
patches of the same length), which the shared encoder takes directly.
"""

from __future__ import annotations

import copy
from typing import NamedTuple

import torch
from skorch.callbacks import Callback
from torch import nn

from sslts.augment import dino_views
from sslts.models import PatchEncoder
from sslts.models._entropy import entropy
from sslts.models._random import init_from_active_generator
from sslts.models.latent_heads import DINOHead
from sslts.objectives._registry import Objective, register_objective, wrap_encoder
from sslts.objectives._views import local_crops, numpy_rng, view
from sslts.training.ema import EMATarget
from sslts.training.monitoring import CollapseMonitor

__all__ = [
    "DINO",
    "DINOBranch",
    "DINOLosses",
    "DINOObjective",
    "DINOOutput",
    "teacher_targets",
]


@init_from_active_generator
class DINOBranch(nn.Module):
    """Encoder and DINO head: ``(B, C, T) -> (B * C, n_prototypes)`` logits.

    Parameters
    ----------
    encoder : nn.Module
        A :class:`sslts.models.PatchEncoder` (anything with ``embed(x, observed)``).
    head : DINOHead
        The projection and prototype head.
    """

    def __init__(self, encoder: nn.Module, head: DINOHead) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, x: torch.Tensor, observed: torch.Tensor | None = None) -> torch.Tensor:
        """Prototype logits of every channel of every series."""
        z = self.encoder.embed(x, observed)
        return self.head(z.reshape(-1, z.shape[-1]))


def teacher_targets(
    logits: torch.Tensor, center: torch.Tensor, temperature: float
) -> torch.Tensor:
    """Centred, sharpened teacher distribution ``softmax((logits - center) / temperature)``.

    Parameters
    ----------
    logits : torch.Tensor
        Teacher prototype logits ``(..., K)``.
    center : torch.Tensor
        The running center of the teacher logits, ``(K,)``.
    temperature : float
        Teacher temperature (sharpening).
    """
    return torch.softmax((logits - center) / temperature, dim=-1)


class DINOOutput(NamedTuple):
    """Student logits of every view (globals first) and teacher targets of the globals.

    Parameters
    ----------
    student : tuple of torch.Tensor
        Prototype logits ``(B * C, K)`` of each view.
    teacher : tuple of torch.Tensor
        Target probabilities ``(B * C, K)`` of each global view.
    """

    student: tuple[torch.Tensor, ...]  # each (B * C, K)
    teacher: tuple[torch.Tensor, ...]  # each (B * C, K), probabilities


@init_from_active_generator
class DINO(nn.Module):
    """Student, EMA teacher, centre and views of DINO.

    The teacher (:attr:`teacher`) starts as a copy of the student
    (:attr:`student`) and receives no gradients; move it with the EMA
    callback of :mod:`sslts.training` (online ``"student"``, target
    ``"teacher"``). Each training forward updates the centre with the
    teacher's batch-mean logits (after using the old centre) and advances the
    teacher-temperature warm-up.

    Parameters
    ----------
    encoder : nn.Module
        A :class:`sslts.models.PatchEncoder` (``embed(x, observed)`` for
        windows of any whole number of patches, ``config.d_model``,
        ``config.patch_length``).
    n_prototypes : int, default 256
        Output size of the head.
    hidden, bottleneck, n_layers : int, default 256, 64, 3
        :class:`~sslts.models.DINOHead` sizes.
    n_local : int, default 4
        Local crops per series.
    local_patches : int or None, default None
        Patches per local crop; None uses 40% of the window's patches
        (at least one).
    teacher_temperature : float, default 0.04
        Final teacher temperature ``tau_t``.
    teacher_temperature_start : float or None, default None
        Warm-up start (linear to ``teacher_temperature`` over
        ``warmup_steps`` training batches); None means no warm-up.
    warmup_steps : int, default 0
        Length of the teacher-temperature warm-up.
    center_momentum : float, default 0.9
        EMA momentum of the centre.
    p, dwt_p : float, default 0.5
        Per-sample probabilities of the simple and DWT steps of the views.
    channel_p : float, default 0.0
        Channel-dropout probability; off because the encoder is
        channel-independent (a dropped channel is a zero series, not a view).
    """

    def __init__(
        self,
        encoder: nn.Module,
        n_prototypes: int = 256,
        hidden: int = 256,
        bottleneck: int = 64,
        n_layers: int = 3,
        n_local: int = 4,
        local_patches: int | None = None,
        teacher_temperature: float = 0.04,
        teacher_temperature_start: float | None = None,
        warmup_steps: int = 0,
        center_momentum: float = 0.9,
        p: float = 0.5,
        dwt_p: float = 0.5,
        channel_p: float = 0.0,
    ) -> None:
        super().__init__()
        if not teacher_temperature > 0:
            raise ValueError(f"teacher_temperature must be > 0, got {teacher_temperature}")
        if not 0.0 <= center_momentum < 1.0:
            raise ValueError(f"center_momentum must be in [0, 1), got {center_momentum}")
        cfg = encoder.config
        head = DINOHead(cfg.d_model, hidden, bottleneck, n_prototypes, n_layers)
        self.student = DINOBranch(encoder, head)
        self.teacher = copy.deepcopy(self.student).requires_grad_(False).eval()
        self.register_buffer("center", torch.zeros(n_prototypes))
        self.register_buffer("step", torch.zeros((), dtype=torch.long))
        self.n_local = n_local
        if local_patches is None:
            local_patches = max(1, round(0.4 * cfg.n_patches))
        if not 1 <= local_patches <= cfg.n_patches:
            raise ValueError(
                f"local_patches must be in [1, {cfg.n_patches}], got {local_patches}"
            )
        self.local_length = local_patches * cfg.patch_length
        self.teacher_temperature = teacher_temperature
        self.teacher_temperature_start = teacher_temperature_start
        self.warmup_steps = warmup_steps
        self.center_momentum = center_momentum
        self.views = dino_views(n_local=n_local, p=p, dwt_p=dwt_p, channel_p=channel_p)

    def train(self, mode: bool = True) -> DINO:
        """Set the training mode; the teacher always stays in evaluation mode (no dropout).

        Parameters
        ----------
        mode : bool, default=True
            Training mode (True) or evaluation mode.
        """
        super().train(mode)
        self.teacher.eval()
        return self

    def current_teacher_temperature(self) -> float:
        """Teacher temperature at the current training step (after warm-up: the final one)."""
        start = self.teacher_temperature_start
        step = int(self.step)
        if start is None or step >= self.warmup_steps:
            return self.teacher_temperature
        return start + (self.teacher_temperature - start) * step / self.warmup_steps

    def forward(self, x: torch.Tensor, observed: torch.Tensor | None = None) -> DINOOutput:
        """Views of ``x`` ``(B, C, T)``, student logits of all, teacher targets of the globals."""
        if observed is None:
            observed = torch.ones_like(x, dtype=torch.bool)
        rng = numpy_rng()
        globals_ = [view(pipeline, x, rng) for pipeline in self.views.global_views]
        locals_ = local_crops(
            x, observed, self.n_local, self.local_length, self.views.local_views.pipeline, rng
        )
        student = [self.student(g, observed) for g in globals_]
        student += [self.student(v, o) for v, o in locals_]
        temperature = self.current_teacher_temperature()
        with torch.no_grad():
            logits = [self.teacher(g, observed) for g in globals_]
            teacher = tuple(teacher_targets(t, self.center, temperature) for t in logits)
            if self.training:
                batch_center = torch.cat(logits).mean(0)
                m = self.center_momentum
                self.center.mul_(m).add_(batch_center, alpha=1 - m)
                self.step += 1
        return DINOOutput(tuple(student), teacher)


class DINOLosses(NamedTuple):
    """The cross-entropy, its KL part and two collapse monitors of the teacher targets.

    ``kl`` is the cross-entropy minus the teacher's entropy (0 when the
    student matches the teacher; the total also moves with the teacher's
    sharpness, the KL does not). ``teacher_entropy`` is the mean entropy of
    one target (near ``log K``: uniform collapse); ``teacher_batch_entropy``
    the entropy of the batch-mean target (near 0: every input gets the same
    prototype).

    Parameters
    ----------
    total : torch.Tensor
        Cross-entropy of the student against the teacher, over all pairs of different
        views.
    kl : torch.Tensor
        ``total`` minus the teacher's entropy.
    teacher_entropy : torch.Tensor
        Mean entropy of one teacher target.
    teacher_batch_entropy : torch.Tensor
        Entropy of the batch-mean teacher target.
    """

    total: torch.Tensor
    kl: torch.Tensor
    teacher_entropy: torch.Tensor
    teacher_batch_entropy: torch.Tensor


class DINOObjective:
    """Cross-entropy of the student against the teacher over pairs of different views.

    Parameters
    ----------
    student_temperature : float, default 0.1
        ``tau_s`` of the student softmax.
    """

    def __init__(self, student_temperature: float = 0.1) -> None:
        if not student_temperature > 0:
            raise ValueError(f"student_temperature must be > 0, got {student_temperature}")
        self.student_temperature = student_temperature

    def __call__(self, output: DINOOutput, **batch: torch.Tensor) -> DINOLosses:
        """Losses of one batch (``batch`` holds the inputs and is unused)."""
        log_student = [torch.log_softmax(s / self.student_temperature, -1) for s in output.student]
        terms = [
            -(target * log_s).sum(-1).mean()
            for i, target in enumerate(output.teacher)
            for j, log_s in enumerate(log_student)
            if j != i
        ]
        total = torch.stack(terms).mean()
        with torch.no_grad():
            targets = torch.cat(output.teacher)
            teacher_entropy = entropy(targets).mean()
            kl = total.detach() - teacher_entropy
        return DINOLosses(total, kl, teacher_entropy, entropy(targets.mean(0)))


#: EMA decay of the teacher when DINO trains through the registry (DINO's default).
_TEACHER_DECAY = 0.996


def _first_teacher(output: DINOOutput) -> torch.Tensor:
    """Teacher targets of the first global view (for :class:`CollapseMonitor`)."""
    return output.teacher[0]


def _callbacks(module: DINO) -> list[tuple[str, Callback]]:
    """The EMA teacher and the collapse monitors of its targets."""
    return [
        ("ema", EMATarget("student", "teacher", decay=_TEACHER_DECAY)),
        ("collapse", CollapseMonitor(probabilities=_first_teacher, embeddings=None)),
    ]


def _teacher_encoder(module: DINO) -> PatchEncoder:
    """The teacher's encoder, which embeds after training (as in DINO's evaluation)."""
    return module.teacher.encoder


register_objective(
    Objective(
        name="dino",
        module=DINO,
        build=wrap_encoder(DINO),
        criterion=DINOObjective,
        losses=DINOLosses,
        callbacks=_callbacks,
        encoder=_teacher_encoder,
    )
)
