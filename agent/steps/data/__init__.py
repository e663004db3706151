"""`data.*` steps that need libraries beyond the pure core: XPath (lxml), JSON Schema
(jsonschema), numbers by locale (Babel) and AES-GCM fields (cryptography); the `data` extra.

The pure `data.*` steps (queries, regex, dates) are built in, in `shared.steps.builtin`.
"""

from agent.steps.data._crypto import decrypt_fields, encrypt_fields
from agent.steps.data._markup import validate_schema, xpath
from agent.steps.data._numbers import format_number, parse_number

AGENT_DATA_STEPS = (xpath, validate_schema, format_number, parse_number, encrypt_fields, decrypt_fields)

__all__ = [
    "AGENT_DATA_STEPS",
    "decrypt_fields",
    "encrypt_fields",
    "format_number",
    "parse_number",
    "validate_schema",
    "xpath",
]
