"""The built-in step families: control flow, sub-flows, data handling and core utilities."""

from shared.steps.builtin.control import CONTROL_STEPS
from shared.steps.builtin.core import CORE_STEPS
from shared.steps.builtin.data import DATA_STEPS
from shared.steps.builtin.data_extra import DATA_EXTRA_STEPS
from shared.steps.builtin.tables import TABLE_STEPS

BUILTIN_STEPS = (*CONTROL_STEPS, *CORE_STEPS, *DATA_STEPS, *DATA_EXTRA_STEPS, *TABLE_STEPS)

__all__ = ["BUILTIN_STEPS", "CONTROL_STEPS", "CORE_STEPS", "DATA_EXTRA_STEPS", "DATA_STEPS", "TABLE_STEPS"]
