"""The orchestrators the user signed in to, and the clients that talk to them.

A `Connection` (URL, e-mail, organisation, nothing secret) is kept in the studio's settings under
`orchestrators`; its refresh token in a `TokenStore`. Every call here is blocking HTTP: views run
them off the Qt event loop (`asyncio.to_thread`).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from shared.client import ApiClient, ApiError, OrgMembership
from studio.model import Settings
from studio.remote._tokens import TokenStore, logger

SETTINGS_KEY = "orchestrators"
ACTIVE_KEY = "orchestrator.active"


@dataclass(frozen=True)
class Connection:
    """One signed-in account on one orchestrator, in one organisation."""

    url: str
    email: str
    org_id: str
    org_name: str = ""
    org_slug: str = ""
    role: str = ""

    @property
    def key(self) -> str:
        """Its key in the token store and the settings: `<url>|<e-mail>`."""
        return f"{self.url}|{self.email}"

    @property
    def display_name(self) -> str:
        """How menus name it: `ann@example.com — Acme (orchestrator.example.com)`."""
        host = urlsplit(self.url).netloc or self.url
        return f"{self.email} — {self.org_name or self.org_id} ({host})"


def normalise_url(url: str) -> str:
    """The orchestrator's base URL as typed by a user, without trailing slash (http:// if omitted).

    Raises:
        ApiError: code `bad_url` for an empty URL or one that is not http(s).
    """
    url = url.strip()
    if url and "://" not in url:
        url = f"http://{url}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError(0, "bad_url", f"'{url or '(empty)'}' is not an orchestrator URL (http://host:port)")
    return url.rstrip("/")


class Connections:
    """The signed-in orchestrators: sign in, switch organisation, sign out, and their clients."""

    def __init__(
        self, settings: Settings, tokens: TokenStore, *, client_factory: Callable[[str], ApiClient] = ApiClient
    ) -> None:
        self.settings = settings
        self.tokens = tokens
        self._factory = client_factory
        self._clients: dict[str, ApiClient] = {}

    # -- the list ---------------------------------------------------------------------------

    def list(self) -> list[Connection]:
        """The kept connections, in the order they were first signed in."""
        kept = self.settings.get(SETTINGS_KEY, [])
        found: list[Connection] = []
        for entry in kept if isinstance(kept, list) else []:
            try:
                found.append(
                    Connection(**{k: str(v) for k, v in entry.items() if k in Connection.__dataclass_fields__})
                )
            except (TypeError, AttributeError):
                continue  # an entry edited by hand into something else: skip it, keep the rest
        return found

    @property
    def active(self) -> Connection | None:
        """The connection the studio works with (the last signed in or chosen), or None."""
        key = self.settings.get(ACTIVE_KEY)
        return next((c for c in self.list() if c.key == key), None)

    def activate(self, connection: Connection | None) -> None:
        """Make `connection` the one the studio works with (None: none)."""
        self.settings.set(ACTIVE_KEY, connection.key if connection else None)

    def _keep(self, connection: Connection) -> None:
        entries = [asdict(c) for c in self.list() if c.key != connection.key]
        position = next((i for i, c in enumerate(self.list()) if c.key == connection.key), len(entries))
        entries.insert(position, asdict(connection))
        self.settings.set(SETTINGS_KEY, entries)

    # -- clients ----------------------------------------------------------------------------

    def client(self, connection: Connection) -> ApiClient:
        """The API client of `connection` (its tokens kept as they rotate).

        Raises:
            ApiError: code `no_session` when its token is gone (sign in again).
        """
        client = self._clients.get(connection.key)
        if client is None:
            token = self.tokens.get(connection.key)
            if not token:
                raise ApiError(0, "no_session", f"not signed in to {connection.url} as {connection.email}: sign in")
            client = self._client_for(connection.url, connection.key)
            client.refresh_token = token
        return client

    def _client_for(self, url: str, key: str) -> ApiClient:
        client = self._factory(url)
        client.on_tokens = lambda c: self.tokens.set(key, c.refresh_token)
        self._clients[key] = client
        return client

    # -- sign in, switch, sign out ----------------------------------------------------------

    def sign_in(
        self, url: str, email: str, password: str, *, totp_code: str | None = None, org: str | None = None
    ) -> Connection:
        """Sign in and keep the connection (made the active one); the password is not kept.

        Raises:
            ApiError: the API's refusal: `invalid_credentials`, `mfa_required` (ask for the code),
                `locked`, `unreachable`, `bad_url`.
        """
        url = normalise_url(url)
        email = email.strip()
        key = f"{url}|{email}"
        client = self._factory(url)
        client.login(email, password, totp_code=totp_code or None, org=org)
        client.on_tokens = lambda c: self.tokens.set(key, c.refresh_token)
        self.tokens.set(key, client.refresh_token)
        self._clients[key] = client
        connection = self._describe(client, url, email)
        self._keep(connection)
        self.activate(connection)
        logger.info("signed in to %s as %s", url, email)
        return connection

    def _describe(self, client: ApiClient, url: str, email: str) -> Connection:
        me = client.me()
        org = next((o for o in client.orgs() if o.id == me.org_id), None)
        return Connection(url, email, me.org_id, org.name if org else "", org.slug if org else "", me.role)

    def organisations(self, connection: Connection) -> builtins.list[OrgMembership]:
        """The organisations the account of `connection` belongs to."""
        return self.client(connection).orgs()

    def switch_org(self, connection: Connection, slug: str) -> Connection:
        """Work in the organisation `slug` from now on (a new session there; the connection follows)."""
        client = self.client(connection)
        client.switch_org(slug)
        switched = self._describe(client, connection.url, connection.email)
        self._keep(switched)
        if self.settings.get(ACTIVE_KEY) == connection.key:
            self.activate(switched)
        return switched

    def sign_out(self, connection: Connection) -> None:
        """Revoke the session on the orchestrator, delete the token, forget the connection.

        An orchestrator that cannot be reached does not keep the studio signed in: the token and
        the connection are forgotten all the same (the server's session then expires on its own).
        """
        client = self._clients.pop(connection.key, None)
        try:
            if client is None and self.tokens.get(connection.key):
                client = self.client(connection)
                self._clients.pop(connection.key, None)
            if client is not None:
                client.logout()
        except ApiError as err:
            logger.warning("signing out of %s: %s (the token is deleted here anyway)", connection.url, err.message)
        finally:
            self.tokens.delete(connection.key)
            self.settings.set(SETTINGS_KEY, [asdict(c) for c in self.list() if c.key != connection.key])
            if self.settings.get(ACTIVE_KEY) == connection.key:
                remaining = self.list()
                self.activate(remaining[0] if remaining else None)

    def forget_client(self, connection: Connection) -> None:
        """Drop the cached client (the next call reads the token again)."""
        self._clients.pop(connection.key, None)

    def __repr__(self) -> str:
        return f"Connections({len(self.list())})"
