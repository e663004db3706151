"""The studio's orchestrator views: the Orchestrator menu and its controller, the sign-in dialog,
the Workflows dock, and the publish and start-execution dialogs. The Qt-free part (connections,
tokens, remote documents) is `studio.remote`."""

from studio.views.remote._controller import FILE_MENU_KEYS, MENU_ACTIONS, RemoteController, remote_controller
from studio.views.remote._dialogs import PublishDialog, StartExecutionDialog, describe
from studio.views.remote._panel import WorkflowsPanel, workflows_dock
from studio.views.remote._signin import SignInDialog
from studio.views.remote._tasks import spawn

__all__ = [
    "FILE_MENU_KEYS",
    "MENU_ACTIONS",
    "PublishDialog",
    "RemoteController",
    "SignInDialog",
    "StartExecutionDialog",
    "WorkflowsPanel",
    "describe",
    "remote_controller",
    "spawn",
    "workflows_dock",
]
