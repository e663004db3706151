"""The account's methods of `ApiClient`: who am I, my organisations, switch, sign out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.client._exceptions import ApiError
from shared.client._models import Me, OrgMembership, Page


class AccountMixin:
    """`me()`, `orgs()`, `switch_org()`, `logout()` (mixed into `ApiClient`)."""

    refresh_token: str
    access_token: str

    def request(self, method: str, path: str, **kwargs: Any) -> Any:  # pragma: no cover - ApiClient's
        raise NotImplementedError

    def _take(self, tokens: Any) -> None:  # pragma: no cover - ApiClient's
        raise NotImplementedError

    def me(self) -> Me:
        """The signed-in user, their organisation, role and permissions."""
        return Me.model_validate(self.request("GET", "/auth/me"))

    def dashboard(
        self, *, since: datetime | None = None, until: datetime | None = None, bucket: str | None = None
    ) -> dict[str, Any]:
        """The organisation's figures over a period (`GET /dashboard`): executions by state per
        `bucket` (`hour` or `day`), per-workflow success and durations against the SLA, agents,
        queue depth and waits."""
        params = {"since": since.isoformat() if since else None, "until": until.isoformat() if until else None}
        params["bucket"] = bucket
        answer: dict[str, Any] = self.request("GET", "/dashboard", params={k: v for k, v in params.items() if v})
        return answer

    def orgs(self) -> list[OrgMembership]:
        """The organisations the user belongs to, with their role in each."""
        return Page[OrgMembership].model_validate(self.request("GET", "/orgs", params={"limit": 500})).items

    def switch_org(self, slug: str) -> None:
        """Open a session in the organisation `slug`; the client then holds its tokens."""
        self._take(self.request("POST", "/auth/switch", json={"org": slug}))

    def logout(self) -> None:
        """Revoke the session on the server and forget its tokens (a session already gone is fine)."""
        try:
            if self.access_token or self.refresh_token:
                self.request("POST", "/auth/logout")
        except ApiError as error:
            if error.status != 401:
                raise
        finally:
            self.access_token = self.refresh_token = ""
