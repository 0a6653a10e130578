"""Development study: what should the frozen TSPulse embedding read out, and how should length be fitted?

Chooses the read-out defaults of :class:`sslts.TSPulseEmbedder` on the
*selection pool* only (the 36 sets of ``UCR_extra``; never the 34 reporting
sets). One forward pass per length policy gives every candidate read-out:

* ``registers``: the decoder's register tokens (today's ``"semantic"``);
* ``+locscale``: per channel, the location and log-scale that RevIN removes
  (computed on the observed points of the whole series);
* ``+detail``: the decoder's time-patch and FFT-patch tokens, each averaged
  over the observed patches (``2 * d_model`` values per channel);
* ``+backbone``: the backbone's register tokens (an intermediate layer);

and the length policies:

* ``pad``: series shorter than the context are left-padded and masked,
  longer ones cut into windows whose embeddings are averaged (today);
* ``resample``: every series linearly resampled to the context length;
* ``hybrid``: short series resampled, long ones windowed.

Each read-out is judged by StandardScaler + LogisticRegression (test
accuracy on the official split). Writes a per-set CSV and prints means by
length regime.

Run::

    python benchmarks/dev_embedding_readout.py
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
from _common import limit_threads, make_parser, write_csv

SHORT, LONG = 128, 512
POLICIES = ("pad", "resample", "hybrid")
READOUTS = {
    "registers": ("registers",),
    "registers+locscale": ("registers", "locscale"),
    "registers+detail": ("registers", "detail"),
    "registers+backbone": ("registers", "backbone"),
    "registers+detail+locscale": ("registers", "detail", "locscale"),
    "all": ("registers", "detail", "backbone", "locscale"),
}


def _resample(X: np.ndarray, length: int) -> np.ndarray:
    grid = np.linspace(0, X.shape[-1] - 1, length)
    flat = X.reshape(-1, X.shape[-1])
    out = np.stack([np.interp(grid, np.arange(X.shape[-1]), row) for row in flat])
    return out.reshape(*X.shape[:-1], length).astype(np.float32)


def _policy_input(X: np.ndarray, policy: str, context: int) -> np.ndarray:
    if policy == "resample" or (policy == "hybrid" and X.shape[-1] < context):
        return _resample(X, context)
    return X.astype(np.float32)


def _features(model: Any, X: np.ndarray, context: int) -> dict[str, np.ndarray]:
    """Every candidate read-out of ``X`` ``(n, channels, length)``, pooled over windows."""
    import torch

    from sslts._validation import Panel
    from sslts.data.windows import context_windows, pool_windows

    panel = Panel(X, None, np.full(len(X), X.shape[-1]))
    windows = context_windows(panel, context)
    cfg = model.config
    n = cfg.n_patches
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("registers", "detail", "backbone")}
    model.eval()
    with torch.no_grad():
        for start in range(0, len(windows), 256):
            x = torch.from_numpy(windows.values[start : start + 256])
            observed = torch.from_numpy(windows.observed[start : start + 256])
            scaled, _, _ = model.revin(x, observed)
            backbone = model.backbone(model._tokens(scaled, ~observed)[0])
            decoded = model.decoder(backbone)
            patch_seen = observed.unflatten(-1, (n, cfg.patch_length)).any(-1).float()[..., None]
            weight = patch_seen / patch_seen.sum(-2, keepdim=True).clamp_min(1)
            detail = [(decoded[..., part, :] * weight).sum(-2) for part in (slice(0, n), slice(n, 2 * n))]
            parts["registers"].append(decoded[..., 2 * n :, :].flatten(-2).numpy())
            parts["detail"].append(torch.cat(detail, -1).numpy())
            parts["backbone"].append(backbone[..., 2 * n :, :].flatten(-2).numpy())
    pooled = {k: pool_windows(np.concatenate(v), windows.owner, len(X)) for k, v in parts.items()}
    loc = X.mean(-1)
    log_scale = np.log(X.std(-1) + 1e-8)
    pooled["locscale"] = np.stack([loc, log_scale], -1).astype(np.float32)
    return {k: v.reshape(len(X), -1) for k, v in pooled.items()}


def _accuracy(F_train: np.ndarray, y_train: np.ndarray, F_test: np.ndarray, y_test: np.ndarray) -> float:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return float(probe.fit(F_train, y_train).score(F_test, y_test))


def _default_logreg(F_train: np.ndarray, y_train: np.ndarray, F_test: np.ndarray, y_test: np.ndarray, scale: float) -> tuple[float, bool]:
    """Accuracy of ``LogisticRegression()`` (defaults) on standardised features times ``scale``, and whether it converged."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(F_train)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        clf = LogisticRegression().fit(scale * scaler.transform(F_train), y_train)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return float(clf.score(scale * scaler.transform(F_test), y_test)), converged


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = make_parser(__doc__, out="dev_embedding_readout", threads=1)
    parser.add_argument("--checkpoint", default="default", help="TSPulse checkpoint")
    parser.add_argument("--archive", default="UCR_extra", help="data sets to judge on (the selection pool)")
    parser.add_argument("--datasets", nargs="*", help="only these data sets")
    parser.add_argument(
        "--scales",
        type=float,
        nargs="*",
        help="instead: LogisticRegression() with its defaults on the --readout features "
        "standardised and multiplied by each scale (accuracy and convergence)",
    )
    parser.add_argument("--readout", default="resample:registers+detail+locscale", help="policy:readout for --scales")
    args = parser.parse_args(argv)
    limit_threads(args.threads)
    from tqdm.auto import tqdm

    from sslts.data.datasets import list_classification, load_classification
    from sslts.pretrained import initial_model

    model, _ = initial_model(args.checkpoint, object)
    context = model.config.context_length
    rows = []
    todo = [n for _, n in list_classification(args.archive) if not args.datasets or n in args.datasets]
    for name in tqdm(todo, unit="set"):
        data = load_classification(name, args.archive)
        started = time.perf_counter()
        row: dict[str, Any] = {"dataset": name, "length": data.X_train.shape[-1], "n_train": len(data.y_train)}
        if args.scales:
            policy, readout = args.readout.split(":")
            train = _features(model, _policy_input(data.X_train, policy, context), context)
            test = _features(model, _policy_input(data.X_test, policy, context), context)
            F_train, F_test = (np.hstack([f[k] for k in READOUTS[readout]]) for f in (train, test))
            for scale in args.scales:
                accuracy, converged = _default_logreg(F_train, data.y_train, F_test, data.y_test, scale)
                row[f"x{scale}:accuracy"], row[f"x{scale}:converged"] = accuracy, int(converged)
        for policy in () if args.scales else POLICIES:
            train = _features(model, _policy_input(data.X_train, policy, context), context)
            test = _features(model, _policy_input(data.X_test, policy, context), context)
            for readout, keys in READOUTS.items():
                row[f"{policy}:{readout}"] = _accuracy(
                    np.hstack([train[k] for k in keys]), data.y_train, np.hstack([test[k] for k in keys]), data.y_test
                )
        row["seconds"] = round(time.perf_counter() - started, 1)
        rows.append(row)
        write_csv(args.out.with_suffix(".csv"), rows)

    columns = [c for c in rows[0] if ":" in c]
    if args.scales:
        for column in columns:
            print(f"{column:20s} {np.mean([r[column] for r in rows]):.4f}")
        return rows
    regimes = {
        f"short (<{SHORT})": lambda n: n < SHORT,
        f"medium ({SHORT}-{LONG})": lambda n: SHORT <= n <= LONG,
        f"long (>{LONG})": lambda n: n > LONG,
        "all": lambda n: True,
    }
    print(f"{'read-out':38s} " + " ".join(f"{r:>18s}" for r in regimes))
    for column in columns:
        means = []
        for test in regimes.values():
            values = [r[column] for r in rows if test(r["length"])]
            means.append(f"{np.mean(values):18.3f}" if values else f"{'-':>18s}")
        print(f"{column:38s} " + " ".join(means))
    return rows


if __name__ == "__main__":
    main()
