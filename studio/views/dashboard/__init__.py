"""The dashboard dock: executions over time, workflows against their SLA, agents and the queue,
with CSV/Excel/PDF exports; and the orchestrator calls it and the admin views make."""

from studio.views.dashboard._api import ClientApi, OrchestratorApi
from studio.views.dashboard._chart import STATE_COLOURS, StateChart
from studio.views.dashboard._view import BREACH_COLOUR, PERIODS, DashboardView, api_of, dashboard_dock

__all__ = [
    "BREACH_COLOUR",
    "PERIODS",
    "STATE_COLOURS",
    "ClientApi",
    "DashboardView",
    "OrchestratorApi",
    "StateChart",
    "api_of",
    "dashboard_dock",
]
