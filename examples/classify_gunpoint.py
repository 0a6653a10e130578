"""Classify GunPoint with pretrained TSPulse embeddings and logistic regression.

Run: ``python examples/classify_gunpoint.py`` (after ``./dev.sh demo`` or ``pip install -e .``).
GunPoint ships with sktime, so nothing is downloaded.
"""

from sklearn.linear_model import LogisticRegression
from sklearn.metrics import classification_report
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline
from sktime.datasets import load_gunpoint

from sslts import TSPulseEmbedder

X_train, y_train = load_gunpoint(split="train", return_type="numpy3D")
X_test, y_test = load_gunpoint(split="test", return_type="numpy3D")

pipe = Pipeline(
    [("emb", TSPulseEmbedder(random_state=0)), ("clf", LogisticRegression(max_iter=2000))]
)
scores = cross_val_score(pipe, X_train, y_train, cv=5, n_jobs=2)
print(f"5-fold CV accuracy on the training split: {scores.mean():.3f} ± {scores.std():.3f}")

pipe.fit(X_train, y_train)
print(classification_report(y_test, pipe.predict(X_test)))
