"""Search GunPoint for the series most similar to a query, with TSPulse embeddings
================================================================================

The training split is indexed by TSPulseRetriever (semantic embeddings of the
shipped checkpoint, cosine distance); every test series is a query. We report
how often the nearest neighbours share the query's label (precision@k) and
print and draw the neighbours of one query.

Run: ``python examples/similarity_search.py``. GunPoint ships with sktime, so
nothing is downloaded; a few seconds on a laptop CPU.
"""

import matplotlib.pyplot as plt
import numpy as np
from sktime.datasets import load_gunpoint

from sslts.retrieval import TSPulseRetriever

X_train, y_train = load_gunpoint(split="train", return_type="numpy3D")
X_test, y_test = load_gunpoint(split="test", return_type="numpy3D")

retriever = TSPulseRetriever(n_neighbors=5).fit(X_train)
distances, indices = retriever.kneighbors(X_test)
for k in (1, 5):
    precision = np.mean(y_train[indices[:, :k]] == y_test[:, None])
    print(f"precision@{k}: {precision:.3f}")

query = 0
print(f"\ntest series {query} (label {y_test[query]}): nearest training series")
for d, i in zip(distances[query], indices[query]):
    print(f"  #{i:3d}  label {y_train[i]}  cosine distance {d:.4f}")

# Without a query the index is searched against itself, each series excluded
_, self_indices = retriever.kneighbors(n_neighbors=1)
print(f"\nleave-one-out 1-NN agreement on the training split: "
      f"{np.mean(y_train[self_indices[:, 0]] == y_train):.3f}")

# %%
# The query and its five nearest training series, coloured by whether their
# label matches the query's.
fig, ax = plt.subplots(figsize=(7, 3.5))
for d, i in zip(distances[query], indices[query]):
    same = y_train[i] == y_test[query]
    ax.plot(X_train[i, 0], color="tab:green" if same else "tab:red", alpha=0.6, lw=1,
            label=f"#{i} (distance {d:.3f})")
ax.plot(X_test[query, 0], color="black", lw=2, label=f"query: test series {query}")
ax.set(xlabel="time", ylabel="value", title="Query and its nearest neighbours")
ax.legend(fontsize="small")
fig.tight_layout()
