"""An estimator that writes down, at each fit, whether Python's garbage collector was running.

The suite pauses the collector while it imports and freezes its heap before forking checks
(conformance/heap.py); every fit must still run with the collector on.
"""

import gc
import os

from sklearn.linear_model import Ridge

LOG_VARIABLE = "CONFORMANCE_TEST_COLLECTOR_LOG"


class RecordsCollector(Ridge):
    def fit(self, X, y, sample_weight=None):
        path = os.environ.get(LOG_VARIABLE)
        if path:
            with open(path, "a", encoding="utf-8") as log:
                log.write(f"{gc.isenabled()} {gc.get_freeze_count()}\n")
        return super().fit(X, y, sample_weight=sample_weight)
