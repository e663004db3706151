"""`http.*`: HTTP requests, downloads and paginated APIs with httpx.

httpx is imported inside the functions that use it, so the agent starts without it.

    _models   params models (auth kinds, TLS, bodies)
    _retry    when to retry and how long to wait (pure)
    _errors   `map_httpx_errors()`, the one boundary for httpx's exceptions
    _client   one AsyncClient per execution and TLS setting (execution resources)
    _auth     credentials by name -> headers / query; OAuth 2.0 token cache
    _send     the retry loop every step shares
    _steps    the steps
"""

from agent.steps.http._errors import map_httpx_errors
from agent.steps.http._retry import backoff_delay, parse_retry_after
from agent.steps.http._steps import HTTP_STEPS, download, paginate, request

__all__ = ["HTTP_STEPS", "backoff_delay", "download", "map_httpx_errors", "paginate", "parse_retry_after", "request"]
