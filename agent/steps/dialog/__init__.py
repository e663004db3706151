"""`dialog.*`: ask the person at this machine during an attended run (through the dialog host).

_params  the params models
_steps   the steps: host, timeout, default, checked answers (`agent/attended/_dialogs.py`)
"""

from agent.steps.dialog._steps import (
    DIALOG_STEPS,
    choose_file,
    choose_folder,
    confirm,
    input_form,
    message,
    review_table,
    select,
)

__all__ = [
    "DIALOG_STEPS",
    "choose_file",
    "choose_folder",
    "confirm",
    "input_form",
    "message",
    "review_table",
    "select",
]
