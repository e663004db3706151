"""The agent runtime: enrolment, connections, dispatch, leases and live events."""
