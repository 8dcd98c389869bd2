"""prefect-dask's task runner with Dask's debugging history bounded, so the flow's process stays flat.

Dask keeps the last `distributed.admin.low-level-log-length` messages sent between client, scheduler and
workers, and as many scheduler transitions, for debugging (default 1,000 each). Every message that
submits a Prefect task carries the pickled task and its context (on the order of 100 KB), and with a
local cluster the client and the scheduler both live in the flow's process: a run of a thousand tasks
held about 0.15 GB there that a run of a hundred did not. Kept shorter here (`DEBUG_HISTORY`) unless the
user configured their own (Dask config file or `DASK_DISTRIBUTED__ADMIN__LOW_LEVEL_LOG_LENGTH`).
"""

from __future__ import annotations

from typing import Any

import dask.config
from prefect_dask import DaskTaskRunner

#: messages and transitions Dask keeps for debugging, per log, when the user set nothing else
DEBUG_HISTORY = 100
_SETTING = "distributed.admin.low-level-log-length"


def debug_history_config() -> dict[str, Any]:
    """Dask settings for the client and a local cluster: the history bounded, unless configured."""
    shipped = dask.config.get(_SETTING, config=dask.config.merge(*dask.config.defaults))
    if dask.config.get(_SETTING) != shipped:  # the user's own choice
        return {}
    return {_SETTING: DEBUG_HISTORY}


class BoundedDaskTaskRunner(DaskTaskRunner):
    """`DaskTaskRunner` whose client, and local cluster (scheduler and workers), keep a short history."""

    @property
    def client(self) -> Any:
        with dask.config.set(debug_history_config()):
            return super().client
