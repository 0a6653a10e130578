"""skorch training wrappers around the pure-torch models, and resumable pretraining."""

from sslts.training.callbacks import SklearnCallbackBridge, StepProgress, WarmupCosineLR
from sslts.training.ema import ema_update, EMATarget, ObjectiveProgress
from sslts.training.finetune import finetune_tspulse
from sslts.training.monitoring import (
    code_usage_entropy,
    CollapseMonitor,
    effective_rank,
    top_code_probability,
)
from sslts.training.net import mtsjepa_callbacks, pretrain_callbacks, PretrainNet
from sslts.training.pretrain import pretrain, PretrainError, PretrainResult

__all__ = [
    "code_usage_entropy",
    "CollapseMonitor",
    "effective_rank",
    "ema_update",
    "EMATarget",
    "finetune_tspulse",
    "mtsjepa_callbacks",
    "ObjectiveProgress",
    "pretrain",
    "pretrain_callbacks",
    "PretrainError",
    "PretrainNet",
    "PretrainResult",
    "SklearnCallbackBridge",
    "StepProgress",
    "top_code_probability",
    "WarmupCosineLR",
]
