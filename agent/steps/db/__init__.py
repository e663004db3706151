"""`db.*`: SQL against any SQLAlchemy URL, with SQLAlchemy 2 Core on its asyncio extension.

SQLAlchemy and the drivers are imported inside the functions that use them.

    _models   params models (URL or transaction, bound params)
    _errors   `map_sqlalchemy_errors()`, the one boundary; the async driver per dialect
    _connect  engines and transactions kept in the execution's resources
    _values   database values as table cells (ISO dates, Decimal as number)
    _steps    the steps
"""

from agent.steps.db._errors import DRIVERS, map_sqlalchemy_errors
from agent.steps.db._steps import DB_STEPS, begin, commit, execute, export_csv, insert, query, rollback
from agent.steps.db._values import cell

__all__ = [
    "DB_STEPS",
    "DRIVERS",
    "begin",
    "cell",
    "commit",
    "execute",
    "export_csv",
    "insert",
    "map_sqlalchemy_errors",
    "query",
    "rollback",
]
