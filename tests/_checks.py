"""Expected failures of scikit-learn's estimator checks shared by the panel estimators.

Imported by the test modules as ``from _checks import ...`` (pytest puts
``tests/`` on ``sys.path``: the folder is not a package).
"""

from __future__ import annotations

# One design decision behind every entry: a 2D array is a univariate *panel*
# (n_instances, n_timepoints), so its columns are time points, not features.
# ``n_features_in_`` counts channels (1 here), and series of another length are
# accepted at transform/predict time by the documented length policy
# (sslts.data.windows) instead of being rejected as a feature-count mismatch.
# Channel-count mismatches are rejected; see test_validation/test_embedding.
PANEL_NOT_TABLE = (
    "2D input is a univariate panel: n_features_in_ counts channels and other "
    "series lengths are accepted by the length policy"
)


def panel_expected_failures(*checks: str) -> dict[str, str]:
    """``expected_failed_checks`` of a panel estimator, each for ``PANEL_NOT_TABLE``.

    The two ``n_features_in_`` checks always fail; ``checks`` names the other
    checks that fail only at their step feeding series of another length.
    """
    names = ("check_n_features_in", "check_n_features_in_after_fitting", *checks)
    return dict.fromkeys(names, PANEL_NOT_TABLE)
