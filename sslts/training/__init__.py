"""skorch training wrappers around the pure-torch models."""

from sslts.training.callbacks import SklearnCallbackBridge
from sslts.training.pretrain import PretrainNet, pretrain_callbacks

__all__ = ["PretrainNet", "SklearnCallbackBridge", "pretrain_callbacks"]
