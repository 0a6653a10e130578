"""skorch training wrappers around the pure-torch models, and resumable pretraining."""

from sslts.training.callbacks import SklearnCallbackBridge, StepProgress, WarmupCosineLR
from sslts.training.net import PretrainNet, pretrain_callbacks
from sslts.training.pretrain import PretrainResult, pretrain
from sslts.training.ema import EMATarget, ObjectiveProgress, ema_update
from sslts.training.monitoring import (
    CollapseMonitor,
    code_usage_entropy,
    effective_rank,
    top_code_probability,
)

__all__ = [
    "PretrainNet",
    "PretrainResult",
    "SklearnCallbackBridge",
    "StepProgress",
    "WarmupCosineLR",
    "pretrain",
    "pretrain_callbacks",
    "CollapseMonitor",
    "EMATarget",
    "ObjectiveProgress",
    "code_usage_entropy",
    "effective_rank",
    "ema_update",
    "top_code_probability",
]
from sslts.training.finetune import finetune_history, finetune_tspulse

__all__ += ["finetune_history", "finetune_tspulse"]
from sslts.training.net import mtsjepa_callbacks

__all__ += ["mtsjepa_callbacks"]
