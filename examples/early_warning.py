"""Early warning: predict that an anomaly is coming from the window before it
============================================================================

A synthetic two-channel series has anomalies (level shifts) that are announced
by a precursor: during the 100 points before each one the noise grows and a
fast oscillation appears. Following the MTS-JEPA protocol we cut the series
into non-overlapping 100-point windows, label each window by whether the *next*
one holds an anomaly, split 6:2:2 in time order, train ``AnomalyPredictor`` with
its default encoder (the frozen shipped TSPulse with per-window statistics
appended), pick its threshold on the validation part, and measure
window-level F1 and ROC AUC on the test part. A model trained on shuffled labels
shows what chance looks like. The figure shows the warning probability of
every test window against the windows that really came before an anomaly.
Runs in well under a minute::

    python examples/early_warning.py
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import f1_score, roc_auc_score

from sslts.prediction import (
    AnomalyPredictor,
    chronological_split,
    make_precursor_series,
    make_prediction_windows,
)

series, labels = make_precursor_series(n_timepoints=30_000, random_state=0)
X, y = make_prediction_windows(series, labels, context=100, horizon=100, stride=100)
X_train, X_val, X_test, y_train, y_val, y_test = chronological_split(X, y, (0.6, 0.2, 0.2))
print(f"{len(X)} context windows {X.shape[1:]}, {y.mean():.0%} followed by an anomaly")

# fit on train + validation; the last part (the validation share) picks the threshold
X_fit, y_fit = np.concatenate([X_train, X_val]), np.concatenate([y_train, y_val])
share = len(X_val) / len(X_fit)
model = AnomalyPredictor(validation_fraction=share, random_state=0).fit(X_fit, y_fit)
proba = model.predict_proba(X_test)[:, 1]
print(
    f"precursor model: test AUC {roc_auc_score(y_test, proba):.3f}, "
    f"F1 {f1_score(y_test, model.predict(X_test)):.3f} "
    f"(threshold {model.threshold_:.2f} chosen on validation, F1 there {model.validation_f1_:.3f})"
)

rng = np.random.default_rng(0)
control_aucs = []
for seed in range(5):
    control = AnomalyPredictor(validation_fraction=share, random_state=seed)
    control.fit(X_fit, rng.permutation(y_fit))
    control_aucs.append(roc_auc_score(y_test, control.predict_proba(X_test)[:, 1]))
print(
    f"shuffled-label control (5 shuffles): test AUC {np.mean(control_aucs):.3f} "
    f"± {np.std(control_aucs):.3f}"
)

# %%
# The warning probability of each test window, in time order, with the
# threshold chosen on the validation part; shaded windows are followed by an
# anomaly.
fig, ax = plt.subplots(figsize=(9, 3))
windows = np.arange(len(y_test))
for i in windows[y_test == 1]:
    ax.axvspan(i - 0.5, i + 0.5, color="tab:red", alpha=0.2, lw=0)
ax.plot(windows, proba, marker=".", label="P(anomaly in the next window)")
ax.axhline(model.threshold_, color="grey", linestyle="--", label="threshold")
ax.set(xlabel="test window", ylabel="probability", ylim=(-0.05, 1.05),
       title="AnomalyPredictor on the test part (shaded: an anomaly follows)")
ax.legend(loc="upper right", fontsize="small")
fig.tight_layout()
