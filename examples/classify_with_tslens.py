"""Fine-tune TSPulse with its TSLens head on GunPoint, against frozen embeddings
==============================================================================

Run: ``python examples/classify_with_tslens.py`` (about a minute on a CPU).
GunPoint ships with sktime, so nothing is downloaded.

Three ways to classify with the shipped pretrained encoder:

* ``TSPulseClassifier(head="tslens", ...)``: the TSPulse paper's TSLens head (a
  copy of the pretrained decoder, a learned token gate and a linear layer)
  trained end to end with the patch embeddings and 0.3 patch masking,
  early-stopped on a validation split of the training series;
* ``TSPulseClassifier()`` with its defaults: a linear probe on the embedder's
  read-out, then the decoder and the probe fine-tuned together for 10 epochs;
* ``TSPulseEmbedder`` frozen, then a logistic regression (the canonical pipeline).

TSLens runs for 10 epochs here to stay within a minute. The figure shows its
losses of each epoch.
"""

import time

import matplotlib.pyplot as plt
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sktime.datasets import load_gunpoint

from sslts import TSPulseEmbedder
from sslts.classification import TSPulseClassifier

X_train, y_train = load_gunpoint(split="train", return_type="numpy3D")
X_test, y_test = load_gunpoint(split="test", return_type="numpy3D")

start = time.perf_counter()
tslens = {"head": "tslens", "finetune": "embeddings", "mask_ratio": 0.3}
tslens["validation_fraction"] = 0.2
clf = TSPulseClassifier(**tslens, batch_size=8, max_epochs=10, random_state=0)
clf.fit(X_train, y_train)
print(
    f"TSPulseClassifier (TSLens, fine-tuned): accuracy {clf.score(X_test, y_test):.3f} "
    f"(best epoch {clf.best_epoch_} of {len(clf.history_)}, {time.perf_counter() - start:.0f} s)"
)

start = time.perf_counter()
default = TSPulseClassifier(random_state=0).fit(X_train, y_train)
print(
    f"TSPulseClassifier() (linear probe, then fine-tuned): accuracy "
    f"{default.score(X_test, y_test):.3f} ({time.perf_counter() - start:.0f} s)"
)

start = time.perf_counter()
frozen = make_pipeline(TSPulseEmbedder(random_state=0), LogisticRegression()).fit(
    X_train, y_train
)
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
