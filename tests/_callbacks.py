"""A scikit-learn fit callback for the tests of estimators that train by epochs.

Imported by the test modules as ``from _callbacks import EpochRecorder``
(pytest puts ``tests/`` on ``sys.path``: the folder is not a package).
"""

from __future__ import annotations


class EpochRecorder:
    """A minimal FitCallback that records epoch tasks and can ask to stop.

    Parameters
    ----------
    stop_after : int or None, default=None
        Ask the estimator to stop after this many epochs (None: never).

    Attributes
    ----------
    epochs : list of dict
        The metadata (logged losses) of every finished epoch.
    snapshots : list
        The fitted estimator handed over at the end of every epoch.
    """

    def __init__(self, stop_after=None):
        self.stop_after = stop_after
        self.epochs = []
        self.snapshots = []

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context, **kwargs):
        pass

    def on_fit_task_end(
        self, estimator, context, *, metadata=None, fitted_estimator=None, **kwargs
    ):
        if context.task_name != "epoch":
            return False
        self.epochs.append(metadata)
        self.snapshots.append(fitted_estimator)
        return self.stop_after is not None and len(self.epochs) >= self.stop_after
