"""skorch training wrappers around the pure-torch models, and resumable pretraining."""

from sslts.training.callbacks import SklearnCallbackBridge, StepProgress, WarmupCosineLR
from sslts.training.net import PretrainNet, pretrain_callbacks
from sslts.training.pretrain import PretrainResult, pretrain

__all__ = [
    "PretrainNet",
    "PretrainResult",
    "SklearnCallbackBridge",
    "StepProgress",
    "WarmupCosineLR",
    "pretrain",
    "pretrain_callbacks",
]
