"""The one table of scikit-learn estimator checks our estimators fail, with why.

``tests/test_common.py`` runs ``parametrize_with_checks`` over every public
estimator with :func:`expected_failed_checks`, in strict mode: a check listed
here that starts passing fails the suite, so the table never outlives its
reason. Imported as ``from _checks import ...`` (pytest puts ``tests/`` on
``sys.path``: the folder is not a package).

Every entry comes from one of a few design decisions, each a reason below.
"""

from __future__ import annotations

# (1) Panels. A 2D array is a univariate *panel* (n_instances, n_timepoints),
# so its columns are time points, not features. ``n_features_in_`` counts
# channels (1 here), and series of another length are accepted at
# transform/predict time by the documented length policy (sslts.data.windows)
# instead of being rejected as a feature-count mismatch. Channel-count
# mismatches are rejected; see test_validation/test_embedding.
PANEL_NOT_TABLE = (
    "2D input is a univariate panel: n_features_in_ counts channels and other "
    "series lengths are accepted by the length policy"
)

# (2) Series. A detector or imputer takes ONE time series whose rows are
# consecutive time points, not i.i.d. samples.
SERIES_NOT_SAMPLES = (
    "rows are consecutive time points of one series, not independent samples: "
    "a point's output depends on its neighbours"
)
ONE_D_IS_A_SERIES = (
    "1D input is a univariate series (n_timepoints,), accepted by design"
)
# Fitted on 3 channels, a 1D input is a 1-channel series: rejected with the
# channel-mismatch error rather than sklearn's "Reshape your data".
ONE_D_AFTER_MULTICHANNEL = (
    "1D input after a multichannel fit is a 1-channel series: rejected as a "
    "channel mismatch, not with sklearn's 'Reshape your data'"
)
# The mismatch is rejected with a ValueError in the shared sslts wording
# ("X has 1 channel(s), but ... was fitted with 3 channel(s)"), which is not
# the "features ... as input" pattern the check matches.
CHANNELS_NOT_FEATURES = "the channel-mismatch error says channels, not features"
# A (1, n) array is one series of one time point and n channels: rejected as
# probably stored channels-first, with a message that says so rather than
# sklearn's "1 sample".
ONE_ROW_IS_ONE_TIME_POINT = (
    "a (1, n) array is one time point of n channels: rejected as probably "
    "channels-first, not with sklearn's '1 sample' message"
)

# (3) Tuned threshold. AnomalyPredictor.predict applies threshold_, the cut
# that maximises F1 of the anomalous class on the validation part, not 0.5:
# argmax(predict_proba) differs from predict, and a class_weight that silences
# one class is undone by the threshold (as with TunedThresholdClassifierCV).
TUNED_THRESHOLD = (
    "predict uses the F1-tuned validation threshold, not argmax of predict_proba"
)


# (4) Batch composition. Float32 batched products round their last bits by
# batch size and row position, differently on different CPUs (AVX-512 machines
# differ where AVX2 ones agree). The two checks that compare a method's output on
# subsets or reorderings of X (check_methods_subset_invariance and
# check_methods_sample_order_invariance) therefore run with float32 tolerances,
# rtol 1e-3 and atol 1e-5 (FLOAT32_BATCH_TOLERANCE, applied in test_common.py),
# for every estimator: they pass everywhere instead of being expected failures on
# some machines only. The standardised embeddings of the tiny test model magnify
# the rounding (its features have small spreads): up to about 1e-4 relative.
FLOAT32_BATCH_TOLERANCE = {"rtol": 1e-3, "atol": 1e-5}
BATCH_CHECKS = ("check_methods_subset_invariance", "check_methods_sample_order_invariance")


def panel_expected_failures(*checks: str) -> dict[str, str]:
    """``expected_failed_checks`` of a panel estimator, each for ``PANEL_NOT_TABLE``.

    The two ``n_features_in_`` checks always fail; ``checks`` names the other
    checks that fail only at their step feeding series of another length.
    """
    names = ("check_n_features_in", "check_n_features_in_after_fitting", *checks)
    return dict.fromkeys(names, PANEL_NOT_TABLE)


# Series anomaly detectors: one table for all of them.
_DETECTOR = {
    "check_methods_subset_invariance": SERIES_NOT_SAMPLES,
    "check_methods_sample_order_invariance": SERIES_NOT_SAMPLES,
    "check_fit1d": ONE_D_IS_A_SERIES,
    "check_fit2d_predict1d": ONE_D_AFTER_MULTICHANNEL,
    "check_n_features_in_after_fitting": CHANNELS_NOT_FEATURES,
    "check_fit2d_1sample": ONE_ROW_IS_ONE_TIME_POINT,
}

EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {
    # Panel transformers: of check_transformer_general only the last step
    # (transform on X[:, :-1] must raise) fails; every earlier step passes.
    "TSPulseEmbedder": panel_expected_failures("check_transformer_general"),
    "JEPAEmbedder": panel_expected_failures("check_transformer_general"),
    "WindowStatistics": panel_expected_failures("check_transformer_general"),
    # check_classifiers_train passes its training-accuracy assertion (> 0.83 on
    # blobs) and fails at the step that expects predict(X.T) (other length) to raise.
    "TSPulseClassifier": {
        **panel_expected_failures("check_classifiers_train"),
    },
    "TSPulseRetriever": panel_expected_failures(),
    "AnomalyPredictor": {
        **panel_expected_failures(),
        "check_classifiers_train": TUNED_THRESHOLD,
        "check_class_weight_classifiers": TUNED_THRESHOLD,
    },
    "KMeansAnomalyDetector": _DETECTOR,
    "DeepSVDDAnomalyDetector": _DETECTOR,
    "TSPulseAnomalyDetector": _DETECTOR,
    # The imputer takes one series too. On NaN-free input (all the checks
    # send) its output is its input, so row order does not matter; but a
    # one-row subset is a series of one time point and is rejected.
    "TSPulseImputer": {
        "check_methods_subset_invariance": SERIES_NOT_SAMPLES,
        "check_fit1d": ONE_D_IS_A_SERIES,
        "check_fit2d_predict1d": ONE_D_AFTER_MULTICHANNEL,
        "check_n_features_in_after_fitting": CHANNELS_NOT_FEATURES,
        "check_fit2d_1sample": ONE_ROW_IS_ONE_TIME_POINT,
    },
}


def expected_failed_checks(estimator) -> dict[str, str]:
    """The ``expected_failed_checks`` of ``estimator``: its class's row of the table."""
    return EXPECTED_FAILED_CHECKS[type(estimator).__name__]
