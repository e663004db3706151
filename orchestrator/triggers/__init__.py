"""Triggers: what starts executions on its own (webhooks, schedules, e-mail, files, database
changes, chains, events), each event starting one execution exactly once."""
