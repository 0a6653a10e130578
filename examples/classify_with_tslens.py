"""Fine-tune TSPulse with its TSLens head on GunPoint, against frozen embeddings
==============================================================================

Run: ``python examples/classify_with_tslens.py`` (under a minute on a CPU).
GunPoint ships with sktime, so nothing is downloaded.

Two ways to classify with the shipped pretrained encoder:

* ``TSPulseClassifier``: the TSLens head (a copy of the pretrained decoder, a
  learned token gate and a linear layer) trained end to end with the patch
  embeddings, early-stopped on a validation split of the training series;
* ``TSPulseEmbedder`` frozen, then a standardised logistic regression.

Fine-tuning runs for 10 epochs here to stay within a minute; the classifier's
default, 30, is what ``benchmarks/bench_classification.py`` uses. The figure
shows the losses of each epoch.
"""

import time

import matplotlib.pyplot as plt
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sktime.datasets import load_gunpoint

from sslts import TSPulseEmbedder
from sslts.classification import TSPulseClassifier

X_train, y_train = load_gunpoint(split="train", return_type="numpy3D")
X_test, y_test = load_gunpoint(split="test", return_type="numpy3D")

start = time.perf_counter()
clf = TSPulseClassifier(max_epochs=10, random_state=0).fit(X_train, y_train)
print(
    f"TSPulseClassifier (TSLens, fine-tuned): accuracy {clf.score(X_test, y_test):.3f} "
    f"(best epoch {clf.best_epoch_} of {len(clf.history_)}, {time.perf_counter() - start:.0f} s)"
)

start = time.perf_counter()
frozen = make_pipeline(
    TSPulseEmbedder(random_state=0), StandardScaler(), LogisticRegression(max_iter=5000)
).fit(X_train, y_train)
print(
    f"frozen TSPulseEmbedder + LogisticRegression: accuracy {frozen.score(X_test, y_test):.3f} "
    f"({time.perf_counter() - start:.0f} s)"
)

# %%
# Training and validation loss per epoch; the weights of the epoch with the
# lowest validation loss (``best_epoch_``) are kept.
epochs = range(1, len(clf.history_) + 1)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(epochs, [row["train_loss"] for row in clf.history_], marker="o", label="training")
ax.plot(epochs, [row["valid_loss"] for row in clf.history_], marker="o", label="validation")
ax.axvline(clf.best_epoch_, color="grey", linestyle="--", label="best epoch")
ax.set(xlabel="epoch", ylabel="cross-entropy", title="TSPulseClassifier fine-tuning")
ax.legend()
fig.tight_layout()
