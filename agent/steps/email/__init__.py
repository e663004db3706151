"""E-mail steps (`email.*`): send over SMTP (smtplib), read and manage over IMAP (IMAPClient).

IMAPClient is imported inside the steps: the agent starts without it. One IMAP login per
execution per account: the connection lives in `context().resources` and is logged out when the
execution ends. Every library error is translated in `map_email_errors`.
"""

from __future__ import annotations

from agent.steps.email._errors import map_email_errors
from agent.steps.email._manage import delete, mark, move, save_attachments
from agent.steps.email._parse import parse_message, safe_filename
from agent.steps.email._search import search
from agent.steps.email._send import send

__all__ = [
    "EMAIL_STEPS",
    "delete",
    "map_email_errors",
    "mark",
    "move",
    "parse_message",
    "safe_filename",
    "save_attachments",
    "search",
    "send",
]

EMAIL_STEPS = (send, search, save_attachments, mark, move, delete)
