"""The anomaly development suite: which series, in which half, seen how.

Two panels and two halves, fixed before any result was looked at:

* ``uni`` panel
    - ``UCR-splice``: one shape-anomaly series per UCR set
      (:func:`sslts.data.shape_anomalies.make_shape_anomaly_series`, 3 anomalies,
      the kind cycling ``class``, ``warp``, ``noise`` over the sets in sorted
      order, seed 0); sets with too few instances of their largest class are
      left out. Sets of ``UCR_extra`` are in the *selection* half, the 30 UCR
      sets in the *report* half (the classification protocol's split);
    - ``NAB``: every NAB series with an anomaly after its fit part, first
      10,000 points; fit part = :func:`sslts.data.datasets.load_anomaly_series`'s
      ``train_end``; ``TSB-AD-U``: the example series, its ``tr_`` split.
* ``multi`` panel
    - ``SMAP`` and ``MSL``: all 82 channels, fitted on the official (anomaly-free)
      train array and scored on the test array; columns constant over both
      arrays dropped;
    - ``TSB-AD-M``: the three examples, their ``tr_`` split.

NAB, SMAP, MSL and TSB-AD series alternate between the halves in sorted key
order (even positions: selection, odd: report). Every design choice is made on
the selection half; the report half is only reported.

A detector is fitted on the fit part and scores the evaluation part as a new
series; metrics use the evaluation part only, with the VUS window
:func:`sslts.metrics.find_period` of its channel 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sslts.data.datasets import (
    list_anomaly_series,
    list_classification,
    load_anomaly_series,
    load_classification,
    load_smap_msl,
)
from sslts.data.shape_anomalies import SHAPE_ANOMALY_KINDS, make_shape_anomaly_series
from sslts.metrics import find_period

HALVES = ("selection", "report")
PANELS = ("uni", "multi")
NAB_MAX_LENGTH = 10_000
_SPLICE_ARCHIVES = {"UCR_extra": "selection", "UCR": "report"}


@dataclass(frozen=True)
class SuiteItem:
    """One series of the suite, loaded lazily by :func:`load_item`."""

    key: str  # unique name, e.g. "UCR-splice/GunPointAgeSpan"
    panel: str
    kind: str  # "UCR-splice/warp", "NAB", "SMAP", ...
    half: str


@dataclass(frozen=True)
class SuiteSeries:
    """A loaded suite series: fit part, evaluation part and its labels."""

    item: SuiteItem
    fit: np.ndarray  # (n_fit, channels)
    values: np.ndarray  # (n_eval, channels)
    labels: np.ndarray  # (n_eval,)
    sliding_window: int


def suite_items(panels=PANELS, halves=HALVES) -> list[SuiteItem]:
    """Every item of the requested panels and halves, in a fixed order."""
    items: list[SuiteItem] = []
    if "uni" in panels:
        for archive, half in _SPLICE_ARCHIVES.items():
            names = sorted(name for _, name in list_classification(archive))
            for i, name in enumerate(names):
                kind = SHAPE_ANOMALY_KINDS[i % len(SHAPE_ANOMALY_KINDS)]
                items.append(
                    SuiteItem(
                        f"UCR-splice/{archive}/{name}",
                        "uni",
                        f"UCR-splice/{kind}",
                        half,
                    )
                )
        keys = list_anomaly_series(["NAB", "TSB-AD-U"])
        items += _alternate(keys, "uni", lambda k: k.split("/")[0])
    if "multi" in panels:
        keys = list_anomaly_series(["SMAP", "MSL", "TSB-AD-M"])
        items += _alternate(keys, "multi", lambda k: k.split("/")[0])
    return [item for item in items if item.half in halves]


def _alternate(keys, panel, kind_of) -> list[SuiteItem]:
    return [
        SuiteItem(key, panel, kind_of(key), HALVES[i % 2])
        for i, key in enumerate(sorted(keys))
    ]


def load_item(item: SuiteItem) -> SuiteSeries | None:
    """Load one item; None when it cannot be built or has no anomaly to find."""
    source = item.key.split("/")[0]
    if source == "UCR-splice":
        _, archive, name = item.key.split("/")
        data = load_classification(name, archive)
        if data.X_train.shape[1] != 1:
            return None
        try:
            series = make_shape_anomaly_series(
                data.X_train,
                data.y_train,
                data.X_test,
                data.y_test,
                kind=item.kind.split("/")[1],
                name=item.key,
                random_state=0,
            )
        except ValueError:  # too few instances of the normal class
            return None
        fit, values = (
            series.values[: series.train_end],
            series.values[series.train_end :],
        )
        labels = series.labels[series.train_end :]
    elif source in ("SMAP", "MSL"):
        channel = load_smap_msl(item.key.split("/", 1)[1])
        keep = np.ptp(np.concatenate([channel.train, channel.test]), axis=0) > 0
        fit, values, labels = (
            channel.train[:, keep],
            channel.test[:, keep],
            channel.labels,
        )
    else:
        max_length = NAB_MAX_LENGTH if source == "NAB" else None
        series = load_anomaly_series(item.key, max_length=max_length)
        values = series.values[:, :1] if item.panel == "uni" else series.values
        fit, values = values[: series.train_end], values[series.train_end :]
        labels = series.labels[series.train_end :]
    if not labels.any() or labels.all():
        return None
    return SuiteSeries(item, fit, values, labels, find_period(values[:, 0]))
