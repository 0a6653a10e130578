"""Development probe: how the patch tokens are pooled in the canonical pipeline's embedding.

Question: the default read-out (registers, time and FFT patch tokens *averaged* over the
observed patches, location and log-scale, for the views series + half + diff) averages
away where in the series a local shape occurs. Does ``LogisticRegression()`` on the
embedding gain when, per view and channel, the **maximum** over observed patches
(as ROCKET's max pooling) and/or the **standard deviation** over observed patches of the
time and FFT patch tokens are appended, or when the registers are dropped?

Run on the 36 selection sets (``--archive UCR_extra``) only; the 34 reporting sets are
not read. One accuracy column per read-out; ``--pretrained`` picks the checkpoint, a
name or a path (written to ``<out>_<checkpoint name or file stem>.csv`` when not the
default).

Run::

    OMP_NUM_THREADS=1 python benchmarks/dev_embedding_pooling.py
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import torch
from _common import limit_threads, make_parser, per_dataset_rows, print_against
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from sslts import TSPulseEmbedder
from sslts.data.datasets import list_classification, load_classification
from sslts.embedding import location_scale

# Blocks of the extended per-view read-out, in the order they are concatenated.
BLOCKS = ("registers", "mean", "max", "std", "ppv", "segments", "locscale")
N_SEGMENTS = 4
READOUTS = {
    "default": ("registers", "mean", "locscale"),
    "+max": ("registers", "mean", "max", "locscale"),
    "+std": ("registers", "mean", "std", "locscale"),
    "+max+std": ("registers", "mean", "max", "std", "locscale"),
    "+ppv": ("registers", "mean", "ppv", "locscale"),
    "+max+ppv": ("registers", "mean", "max", "ppv", "locscale"),
    "+segments": ("registers", "mean", "segments", "locscale"),
    "+max+segments": ("registers", "mean", "max", "segments", "locscale"),
    "mean+max (no registers)": ("mean", "max", "locscale"),
}


def extended_readout(model, x: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
    """Registers, then mean, max and std of the time and FFT patch tokens over observed patches."""
    cfg = model.config
    n = cfg.n_patches
    tokens = model.encode(x, observed)
    seen = observed.unflatten(-1, (n, cfg.patch_length)).any(-1)[..., None]
    weight = seen.to(tokens.dtype) / seen.sum(-2, keepdim=True).clamp_min(1)
    blocks = {"registers": [tokens[..., 2 * n :, :].flatten(-2)]}
    blocks.update({b: [] for b in BLOCKS[1:-1]})
    # contiguous segments of the observed patches (the last patches are always observed
    # by the left padding; a patch belongs to segment floor(rank * N_SEGMENTS / count))
    rank = seen.cumsum(-2) - 1
    count = seen.sum(-2, keepdim=True).clamp_min(1)
    segment = (rank * N_SEGMENTS // count).clamp(0, N_SEGMENTS - 1)
    for part in (slice(0, n), slice(n, 2 * n)):
        t = tokens[..., part, :]
        mean = (t * weight).sum(-2)
        blocks["mean"].append(mean)
        blocks["max"].append(t.masked_fill(~seen, -torch.inf).amax(-2))
        blocks["std"].append((((t - mean[..., None, :]) ** 2) * weight).sum(-2).sqrt())
        blocks["ppv"].append(((t > mean[..., None, :]).to(t.dtype) * weight).sum(-2))
        for k in range(N_SEGMENTS):
            inside = (seen & (segment == k)).to(t.dtype)
            blocks["segments"].append((t * inside).sum(-2) / inside.sum(-2).clamp_min(1))
    return torch.cat([torch.cat(blocks[b], -1) for b in BLOCKS[:-1]], -1)


class _ExtendedEmbedder(TSPulseEmbedder):
    """The embedder with the extended read-out (a probe, not library API)."""

    def _embed_view(self, panel):
        model = self.model_
        per_channel = self._infer_windows(
            partial(extended_readout, model), panel, model.config.context_length,
            policy=self.length_policy,
        )
        return np.concatenate([per_channel, location_scale(model, panel)], axis=-1)


def block_columns(d_model: int, n_registers: int, n_views: int) -> dict[str, np.ndarray]:
    widths = {"registers": n_registers * d_model, "mean": 2 * d_model, "max": 2 * d_model,
              "std": 2 * d_model, "ppv": 2 * d_model, "segments": 2 * N_SEGMENTS * d_model,
              "locscale": 2}
    per_view = sum(widths.values())
    columns, start = {}, 0
    for block in BLOCKS:
        columns[block] = np.concatenate(
            [np.arange(start, start + widths[block]) + v * per_view for v in range(n_views)]
        )
        start += widths[block]
    return columns


def run_set(archive: str, name: str, pretrained: str) -> dict:
    data = load_classification(name, archive)
    emb = _ExtendedEmbedder(
        pretrained=pretrained, standardize=False, patch_phases=1, random_state=0
    )
    raw_train = emb.fit(data.X_train).transform(data.X_train)
    raw_test = emb.transform(data.X_test)
    cfg = emb.model_.config
    columns = block_columns(cfg.d_model, cfg.n_registers, len(emb.views))
    row = {}
    for label, blocks in READOUTS.items():
        cols = np.sort(np.concatenate([columns[b] for b in blocks]))
        scaler = StandardScaler().fit(raw_train[:, cols])
        clf = LogisticRegression().fit(scaler.transform(raw_train[:, cols]), data.y_train)
        row[label] = round(float(clf.score(scaler.transform(raw_test[:, cols]), data.y_test)), 4)
    return row


def main() -> None:
    parser = make_parser(__doc__, out="dev_embedding_pooling", threads=1)
    parser.add_argument("--archive", default="UCR_extra")
    parser.add_argument("--pretrained", default="default")
    args = parser.parse_args()
    limit_threads(args.threads)
    suffix = "" if args.pretrained == "default" else f"_{Path(args.pretrained).stem}"
    out = args.out.with_name(args.out.name + suffix).with_suffix(".csv")
    rows = per_dataset_rows(
        out, list_classification(args.archive), partial(run_set, pretrained=args.pretrained)
    )
    print_against(rows, READOUTS, base="default")


if __name__ == "__main__":
    main()
