"""What the Orchestrator menu and the executions monitor open from the versions and AI views:
the breaking changes a publish would cause, "Describe a flow…" and "Diagnose…".

Kept apart from `_controller.py` (the menu's own actions); each function takes the controller and
makes its orchestrator calls through the views' `RemoteWorkflows` adapter, in worker threads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from studio.remote import source_of
from studio.views.ai import DescribeFlowDialog, DiagnoseDialog
from studio.views.remote._dialogs import PublishDialog
from studio.views.remote._tasks import spawn
from studio.views.versions import BreakingChangesList, RemoteWorkflows

if TYPE_CHECKING:
    from studio.views.remote._controller import RemoteController


def add_breaking_changes(controller: RemoteController, dialog: PublishDialog) -> BreakingChangesList | None:
    """Show in `dialog` the callers a publish of the open workflow's draft would break (loaded in
    the background; None for a flow that is not on the orchestrator yet)."""
    client = controller.client_or_none()
    source = source_of(controller.window.document)
    if client is None or source is None:
        return None
    changes = BreakingChangesList(dialog)
    dialog.body.insertWidget(1, changes)
    dialog.breaking = changes
    dialog.loading = spawn(changes.load(RemoteWorkflows(client), source.workflow_id))
    return changes


def open_describe(controller: RemoteController) -> DescribeFlowDialog | None:
    """ "Describe a flow…": the AI flow builder's proposal as a diff against the open flow."""
    client = controller.client_or_none()
    if client is None:
        controller.show_message("Not signed in", "Sign in to an orchestrator to use its flow builder.")
        return None
    dialog = DescribeFlowDialog(controller.window.document, RemoteWorkflows(client), controller.window)
    dialog.open()
    controller.describe_dialog = dialog
    return dialog


async def diagnose(controller: RemoteController, execution_id: str, workflow_id: str) -> DiagnoseDialog | None:
    """Why execution `execution_id` failed, and the fix as a diff against its workflow's draft
    (opened first when another flow, or a read-only version, is open)."""
    client = controller.client_or_none()
    if client is None:
        return None
    source = source_of(controller.window.document)
    elsewhere = source is None or source.workflow_id != workflow_id or source.version is not None
    if elsewhere and not await controller.open_workflow(workflow_id):
        return None
    dialog = DiagnoseDialog(controller.window.document, RemoteWorkflows(client), execution_id, controller.window)
    dialog.open()
    controller.diagnose_dialog = dialog
    await dialog.diagnose()
    return dialog
