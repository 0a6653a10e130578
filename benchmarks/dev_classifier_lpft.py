"""Development probe: linear-probe-then-fine-tune (LP-FT) from the canonical pipeline.

Question: starting exactly at the canonical pipeline (frozen ``TSPulseEmbedder()``
features, standardised, ``LogisticRegression()``), does fine-tuning parts of
the encoder together with that linear head, under the same L2 penalty as the
logistic regression (``||W||^2 / (2 n)`` per mean cross-entropy), raise test
accuracy, and after how many epochs?

Run on the 36 selection sets (``--archive UCR_extra``) only: they choose the
recipe; the 34 reporting sets are never read here. One training run per data
set and configuration; test accuracy is recorded after the epochs listed in
``--checkpoints`` (epoch 0 is the probe itself), so one run gives the curve.

Configurations (``--train``):
``decoder``     the pretrained decoder and the head train (the backbone is frozen
                and runs without gradients);
``embeddings``  the time and FFT patch embeddings, the decoder and the head;
``all``         every encoder parameter.

Run::

    OMP_NUM_THREADS=1 python benchmarks/dev_classifier_lpft.py --train decoder
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from _common import limit_threads, make_parser, per_dataset_rows
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import LabelEncoder

from sslts import TSPulseEmbedder
from sslts.data.datasets import list_classification, load_classification
from sslts.data.windows import context_windows
from sslts.embedding import location_scale
from sslts.models.masking import mixed_mask


def readout(model, x, observed, hidden):
    """Registers, pooled time and FFT tokens (as semantic_pooled_embedding), with gradients."""
    cfg = model.config
    n = cfg.n_patches
    scaled, _, _ = model.revin(x, ~hidden)
    tokens, _ = model._tokens(scaled, hidden)
    tokens = model.decoder(model.backbone(tokens))
    seen = observed.unflatten(-1, (n, cfg.patch_length)).any(-1).to(tokens.dtype)[..., None]
    weight = seen / seen.sum(-2, keepdim=True).clamp_min(1.0)
    pooled = [(tokens[..., part, :] * weight).sum(-2) for part in (slice(0, n), slice(n, 2 * n))]
    return torch.cat([tokens[..., 2 * n :, :].flatten(-2), *pooled], dim=-1)


def run_set(archive, name, args):
    data = load_classification(name, archive)
    labels = LabelEncoder().fit(data.y_train)
    y_tr, y_te = labels.transform(data.y_train), labels.transform(data.y_test)
    emb = TSPulseEmbedder(views=("series",), patch_phases=1, random_state=0).fit(data.X_train)
    z_tr = emb.transform(data.X_train)
    probe = LogisticRegression().fit(z_tr, y_tr)
    rows = {0: float(probe.score(emb.transform(data.X_test), y_te))}

    model = copy.deepcopy(emb.model_)
    cfg = model.config
    mean = torch.from_numpy(emb.mean_.astype(np.float32))
    scale = torch.from_numpy(emb.scale_.astype(np.float32))
    n_classes = len(labels.classes_)
    coef, intercept = probe.coef_, probe.intercept_
    if n_classes == 2:  # one logit w.x + b for class 1: logits (0, w.x + b)
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.concatenate([[0.0], intercept])
    head = torch.nn.Linear(z_tr.shape[1], n_classes)
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(coef.astype(np.float32)))
        head.bias.copy_(torch.from_numpy(intercept.astype(np.float32)))

    def tensors(X):
        panel = emb._check_X(X, reset=False)
        w = context_windows(panel, cfg.context_length, emb.length_policy)
        assert len(w) == len(X)
        ls = torch.from_numpy(location_scale(model, panel))
        return torch.from_numpy(w.values), torch.from_numpy(w.observed), ls

    x_tr, o_tr, ls_tr = tensors(data.X_train)
    x_te, o_te, ls_te = tensors(data.X_test)

    def features(x, o, ls, hidden):
        per_channel = torch.cat([readout(model, x, o, hidden), ls], dim=-1)
        return (per_channel.flatten(1) - mean) / scale

    def accuracy():
        model.eval()
        correct = 0
        with torch.no_grad():
            for s in range(0, len(x_te), 256):
                sl = slice(s, s + 256)
                logits = head(features(x_te[sl], o_te[sl], ls_te[sl], ~o_te[sl]))
                correct += int((logits.argmax(1).numpy() == y_te[sl]).sum())
        return correct / len(x_te)

    # sanity: epoch 0 through torch equals the probe
    rows["0_torch"] = accuracy()

    model.requires_grad_(False)
    parts = {"decoder": [model.decoder], "embeddings": [model.decoder, model.time_embedding,
             model.fft_embedding], "all": [model]}[args.train]
    for part in parts:
        part.requires_grad_(True)
    params = [p for p in model.parameters() if p.requires_grad]
    gen = torch.Generator().manual_seed(0)
    opt = torch.optim.AdamW(
        [{"params": params, "lr": args.lr, "weight_decay": 0.0},
         {"params": head.parameters(), "lr": args.head_lr, "weight_decay": 0.0}]
    )
    n = len(x_tr)
    y_tr_t = torch.from_numpy(y_tr)
    epochs = max(args.checkpoints)
    steps_per_epoch = -(-n // args.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * steps_per_epoch)
    for epoch in range(1, epochs + 1):
        model.train() if args.train == "all" else model.eval()
        order = torch.randperm(n, generator=gen)
        for s in range(0, n, args.batch_size):
            idx = order[s : s + args.batch_size]
            x, o = x_tr[idx], o_tr[idx]
            hidden = ~o
            if args.mask_ratio > 0:
                drawn = mixed_mask(len(idx), cfg.context_length, cfg.patch_length,
                                   args.mask_ratio, 0.0, generator=gen)
                hidden = hidden | drawn[:, None, :]
            logits = head(features(x, o, ls_tr[idx], hidden))
            loss = torch.nn.functional.cross_entropy(logits, y_tr_t[idx])
            loss = loss + head.weight.pow(2).sum() / (2 * n)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        if epoch in args.checkpoints:
            rows[epoch] = accuracy()
    return rows


def main():
    parser = make_parser(__doc__, out="dev_classifier_lpft", threads=1)
    parser.add_argument("--archive", default="UCR_extra")
    parser.add_argument("--train", default="decoder", choices=["decoder", "embeddings", "all"])
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--mask-ratio", type=float, default=0.3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--checkpoints", type=int, nargs="+", default=[1, 3, 5, 10, 20])
    parser.add_argument("--sets", nargs="*")
    args = parser.parse_args()
    limit_threads(args.threads)
    tag = f"{args.train}_lr{args.lr:g}_hlr{args.head_lr:g}_m{args.mask_ratio:g}_b{args.batch_size}"
    out = args.out.with_name(f"{args.out.stem}_{tag}.csv")
    datasets = [
        (archive, name)
        for archive, name in list_classification(args.archive)
        if not args.sets or name in args.sets
    ]

    def accuracies(archive: str, name: str) -> dict:
        return {f"ep{k}": round(v, 4) for k, v in run_set(archive, name, args).items()}

    rows = per_dataset_rows(out, datasets, accuracies)
    keys = [k for k in rows[0] if k.startswith("ep")]
    print(tag, {k: round(float(np.mean([r[k] for r in rows])), 4) for k in keys})


if __name__ == "__main__":
    main()
