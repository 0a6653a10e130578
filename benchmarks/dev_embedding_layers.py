"""Development probe: read pooled patch tokens of intermediate layers, not only the decoder's.

Question: the default read-out of :class:`sslts.TSPulseEmbedder` pools the patch tokens
of the *decoder's* output (registers, then mean and max over the observed time and FFT
patches, then location and log-scale, for the views series + half + diff). The largest
gaps to MiniRocket are on series whose classes differ by local shapes; earlier mixer
layers have mixed fewer patches together, so their tokens may keep more local detail.
Does ``LogisticRegression()`` on the embedding gain when the mean and max of the time
and FFT patch tokens of an earlier state are appended? States: ``input`` (the patch
embeddings, before any mixing), ``backbone<k>`` (after backbone layer ``k``), and the
decoder's output (the default read-out).

Run on the 36 selection sets (``--archive UCR_extra``) only; the 34 reporting sets are
not read. Features are standardised on the training split (as ``standardize=True``
does), one accuracy column per read-out.

Run::

    OMP_NUM_THREADS=1 python benchmarks/dev_embedding_layers.py
"""

from __future__ import annotations

from functools import partial

import numpy as np
import torch
from _common import limit_threads, make_parser, per_dataset_rows, print_against
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from sslts import TSPulseEmbedder
from sslts.data.datasets import list_classification, load_classification
from sslts.embedding import location_scale
from sslts.models.tspulse import pooled_readout, pooled_readout_width

POOLING = ("mean", "max")


def state_names(n_layers: int) -> list[str]:
    """Names of the pooled states, in the order :func:`layered_readout` returns them."""
    return ["input", *(f"backbone{k}" for k in range(1, n_layers + 1))]


def layered_readout(model, x: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
    """The default read-out, then the pooled patch tokens of every earlier state."""
    cfg = model.config
    n = cfg.n_patches
    scaled, _, _ = model.revin(x, observed)
    state, _ = model._tokens(scaled, ~observed)
    pooled = [pooled_readout(state, observed, cfg, POOLING)[..., cfg.n_registers * cfg.d_model :]]
    for layer in model.backbone:
        state = layer(state)
        pooled.append(pooled_readout(state, observed, cfg, POOLING)[..., cfg.n_registers * cfg.d_model :])
    for layer in model.decoder:
        state = layer(state)
    assert state.shape[-2] == 2 * n + cfg.n_registers
    return torch.cat([pooled_readout(state, observed, cfg, POOLING), *pooled], -1)


class _LayeredEmbedder(TSPulseEmbedder):
    """The embedder with the layered read-out (a probe, not library API)."""

    def _embed_view(self, panel):
        model = self.model_
        per_channel = self._infer_windows(
            partial(layered_readout, model), panel, model.config.context_length,
            policy=self.length_policy,
        )
        return np.concatenate([per_channel, location_scale(model, panel)], axis=-1)


def block_columns(config, n_views: int) -> dict[str, np.ndarray]:
    """Column indices of each block over all views."""
    widths = {"default": pooled_readout_width(config, POOLING)}
    for name in state_names(config.n_layers):
        widths[name] = 2 * len(POOLING) * config.d_model
    widths["locscale"] = 2
    per_view = sum(widths.values())
    columns, start = {}, 0
    for block, width in widths.items():
        columns[block] = np.concatenate(
            [np.arange(start, start + width) + v * per_view for v in range(n_views)]
        )
        start += width
    return columns


def readouts(n_layers: int) -> dict[str, tuple[str, ...]]:
    base = ("default", "locscale")
    out = {"default": base, "+input": (*base, "input")}
    for k in (1, 2, 4, n_layers):
        out[f"+backbone{k}"] = (*base, f"backbone{k}")
    out["+input+backbone2"] = (*base, "input", "backbone2")
    return out


def run_set(archive: str, name: str) -> dict:
    data = load_classification(name, archive)
    emb = _LayeredEmbedder(standardize=False, patch_phases=1, random_state=0)
    raw_train = emb.fit(data.X_train).transform(data.X_train)
    raw_test = emb.transform(data.X_test)
    cfg = emb.model_.config
    columns = block_columns(cfg, len(emb.views))
    row = {}
    for label, blocks in readouts(cfg.n_layers).items():
        cols = np.sort(np.concatenate([columns[b] for b in blocks]))
        scaler = StandardScaler().fit(raw_train[:, cols])
        clf = LogisticRegression().fit(scaler.transform(raw_train[:, cols]), data.y_train)
        row[label] = round(float(clf.score(scaler.transform(raw_test[:, cols]), data.y_test)), 4)
    return row


def main() -> None:
    parser = make_parser(__doc__, out="dev_embedding_layers", threads=1)
    parser.add_argument("--archive", default="UCR_extra")
    args = parser.parse_args()
    limit_threads(args.threads)
    rows = per_dataset_rows(args.out.with_suffix(".csv"), list_classification(args.archive), run_set)
    labels = [k for k in rows[0] if k not in ("dataset", "seconds")]
    print_against(rows, labels, base="default")

if __name__ == "__main__":
    main()
