"""skorch callbacks that connect training to the outside world."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from skorch.callbacks import Callback

__all__ = ["SklearnCallbackBridge"]


class SklearnCallbackBridge(Callback):
    """Report each skorch epoch as a subtask of a scikit-learn callback context.

    scikit-learn (>= 1.9) lets users attach callbacks (progress bars, scoring
    monitors) to an estimator or a whole ``Pipeline``. This bridge opens one
    subtask per epoch under the estimator's fit context, passes the epoch's
    losses as metadata and stops training when a callback asks to.

    Parameters
    ----------
    context : sklearn.callback.CallbackContext
        The estimator's fit context (from ``_init_callback_context``).
    estimator : estimator instance
        The estimator being fitted, passed to the callback hooks.
    reconstruction_attributes : callable
        ``net -> dict`` of the fitted attributes as they would be if training
        stopped now; called lazily, only when a callback needs them.
    """

    def __init__(
        self,
        context: Any,
        estimator: Any,
        reconstruction_attributes: Callable[[Any], dict[str, Any]],
    ) -> None:
        self.context = context
        self.estimator = estimator
        self.reconstruction_attributes = reconstruction_attributes

    def on_epoch_begin(self, net, **kwargs: Any) -> None:
        self.epoch_context_ = self.context.subcontext(task_name="epoch")
        self.epoch_context_.call_on_fit_task_begin(estimator=self.estimator)

    def on_epoch_end(self, net, **kwargs: Any) -> None:
        losses = {
            key: value
            for key, value in net.history[-1].items()
            if key.endswith("loss") or key.startswith("loss_")
        }
        stop = self.epoch_context_.call_on_fit_task_end(
            estimator=self.estimator,
            metadata=losses,
            reconstruction_attributes=lambda: self.reconstruction_attributes(net),
        )
        if stop:
            # skorch ends training cleanly on KeyboardInterrupt (as EarlyStopping does).
            raise KeyboardInterrupt
