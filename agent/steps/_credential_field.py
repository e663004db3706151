"""How a params field says it holds a credential's *name*.

`Field(json_schema_extra=CREDENTIAL_NAME, ...)` puts `"x-rpa-credential": true` in the step's
params schema, so tools reading the catalogue (the studio's forms, the orchestrator deciding
which credentials a flow needs) can find the names without knowing each step family.
"""

from __future__ import annotations

from typing import Any

CREDENTIAL_NAME: dict[str, Any] = {"x-rpa-credential": True}
