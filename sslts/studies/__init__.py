"""Studies that run the library's estimators and objectives as controlled experiments.

:mod:`sslts.studies.dividend` measures the pre-training dividend: the gain of
self-supervised pretraining over the same network trained from scratch, per
objective, pretraining data, depth and task (``sslts benchmark dividend``).
"""

from sslts.studies._encoders import OBJECTIVES, Budget
from sslts.studies._tasks import TaskSuite, load_suite
from sslts.studies.dividend import (
    COLUMNS,
    DATA_SOURCES,
    Cell,
    DividendPlan,
    dividend,
    plan_grid,
    quick_plan,
    read_results,
    run_dividend_study,
)

__all__ = [
    "COLUMNS",
    "DATA_SOURCES",
    "OBJECTIVES",
    "Budget",
    "Cell",
    "DividendPlan",
    "TaskSuite",
    "dividend",
    "load_suite",
    "plan_grid",
    "quick_plan",
    "read_results",
    "run_dividend_study",
]
