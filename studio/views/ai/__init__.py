"""AI on the canvas: describe a flow and get it as a diff to accept; diagnose a failed execution
and apply the proposed fix the same way. Both talk to the orchestrator through
`studio.views.versions.WorkflowServer` and apply with the one undoable `replace_flow` edit."""

from studio.views.ai._describe import DescribeFlowDialog
from studio.views.ai._diagnose import DiagnoseDialog, patched
from studio.views.ai._proposal import ProposalDialog

__all__ = ["DescribeFlowDialog", "DiagnoseDialog", "ProposalDialog", "patched"]
