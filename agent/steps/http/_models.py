"""Params models of the `http.*` steps (the studio builds its forms from them)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent.steps._storage_io import storage_credential_field
from shared.steps import CREDENTIAL_NAME

Method = Literal["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BasicAuth(_Model):
    """HTTP Basic: `username` and `password` fields of a credential."""

    kind: Literal["basic"] = Field(description="HTTP Basic authentication.")
    credential: str = Field(
        json_schema_extra=CREDENTIAL_NAME,
        min_length=1,
        description="Credential name; its `username` field and its password.",
    )


class BearerAuth(_Model):
    """`Authorization: Bearer <token>` with a credential's token."""

    kind: Literal["bearer"] = Field(description="A bearer token in the Authorization header.")
    credential: str = Field(
        json_schema_extra=CREDENTIAL_NAME, min_length=1, description="Credential name; its token (main value) is sent."
    )


class ApiKeyAuth(_Model):
    """An API key in a header or a query parameter."""

    kind: Literal["api_key"] = Field(description="An API key in a header or the query string.")
    credential: str = Field(
        json_schema_extra=CREDENTIAL_NAME, min_length=1, description="Credential name; its main value is the key."
    )
    header: str | None = Field(default=None, description="Header that carries the key, e.g. `X-API-Key`.")
    query: str | None = Field(default=None, description="Query parameter that carries the key, e.g. `api_key`.")

    @model_validator(mode="after")
    def _one_place(self) -> ApiKeyAuth:
        if (self.header is None) == (self.query is None):
            raise ValueError("give exactly one of 'header' or 'query' for an API key")
        return self


class OAuth2ClientCredentials(_Model):
    """OAuth 2.0 client credentials; the token is fetched once and kept for the execution."""

    kind: Literal["oauth2_client_credentials"] = Field(description="OAuth 2.0 client credentials grant.")
    credential: str = Field(
        json_schema_extra=CREDENTIAL_NAME,
        min_length=1,
        description="Credential name with `client_id` and `client_secret` fields.",
    )
    token_url: str = Field(min_length=1, description="The token endpoint.")
    scope: str | None = Field(default=None, description="Space-separated scopes to ask for.")
    audience: str | None = Field(default=None, description="An `audience` form field, for servers that want one.")
    client_auth: Literal["body", "basic"] = Field(
        default="body", description="Send the client id and secret in the form body or as HTTP Basic."
    )


Auth = Annotated[
    BasicAuth | BearerAuth | ApiKeyAuth | OAuth2ClientCredentials,
    Field(discriminator="kind"),
]


class TlsOptions(_Model):
    """How the server's certificate is checked, and the client certificate to show."""

    verify: bool = Field(default=True, description="Check the server's certificate (never turn off in production).")
    ca_bundle: str | None = Field(
        default=None, description="A PEM file of CA certificates to trust instead of the system's."
    )
    client_cert: str | None = Field(
        json_schema_extra=CREDENTIAL_NAME,
        default=None,
        description="Credential name holding a client certificate: fields `cert` and `key` (PEM text).",
    )


class FilePart(_Model):
    """One file of a multipart body."""

    field: str = Field(min_length=1, description="The form field name.")
    path: str = Field(min_length=1, description="The file to send: a local path or a storage URL (s3://, sftp://...).")
    filename: str | None = Field(default=None, description="The file name sent; the path's name by default.")
    content_type: str | None = Field(default=None, description="Its media type; guessed from the name by default.")
    storage_credential: str | None = storage_credential_field()


class RequestBase(_Model):
    """What every `http.*` step sends and how it retries."""

    method: Method = Field(default="GET", description="The HTTP method.")
    url: str = Field(min_length=1, description="The URL (http or https).")
    query: dict[str, Any] = Field(default_factory=dict, description="Query parameters (a list value repeats the key).")
    headers: dict[str, str] = Field(default_factory=dict, description="Request headers.")
    auth: Auth | None = Field(default=None, description="Authentication from a credential, by name.")
    tls: TlsOptions = Field(default_factory=TlsOptions, description="Certificate checks and client certificate.")
    timeout_s: float = Field(default=30.0, gt=0, description="Seconds to connect, and between bytes read or written.")
    follow_redirects: bool = Field(default=True, description="Follow 3xx redirects.")
    retries: int = Field(default=3, ge=0, le=20, description="Tries again after a 408, 429, 5xx or a lost connection.")
    backoff_s: float = Field(default=0.5, ge=0, description="First wait between tries; doubled each time.")
    max_wait_s: float = Field(
        default=60.0, ge=0, description="Longest wait between tries; a longer `Retry-After` fails the step instead."
    )
    retry_non_idempotent: bool = Field(
        default=False, description="Also retry POST and PATCH (only if the server de-duplicates them)."
    )
    accept_status: list[int] = Field(
        default_factory=list, description="Statuses besides 2xx that are an answer, not an error (e.g. [404])."
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme not in ("http", "https"):
            raise ValueError("the URL must start with http:// or https://")
        return value

    @field_validator("accept_status")
    @classmethod
    def _statuses(cls, value: list[int]) -> list[int]:
        bad = [s for s in value if not 100 <= s <= 599]
        if bad:
            raise ValueError(f"not HTTP statuses: {bad}")
        return value


class RequestParams(RequestBase):
    """`http.request`."""

    json_body: Any = Field(default=None, description="A JSON body (any JSON value).")
    form: dict[str, Any] | None = Field(default=None, description="A form body (urlencoded, or multipart with files).")
    files: list[FilePart] = Field(default_factory=list, description="Files to send as multipart/form-data.")
    content: str | None = Field(default=None, description="A raw text body (set Content-Type in headers).")
    response: Literal["auto", "json", "text", "none"] = Field(
        default="auto", description="How to read the answer: JSON when it says so (auto), JSON, text, or not at all."
    )

    @model_validator(mode="after")
    def _one_body(self) -> RequestParams:
        bodies = [
            name
            for name, given in (
                ("json_body", self.json_body is not None),
                ("form/files", self.form is not None or bool(self.files)),
                ("content", self.content is not None),
            )
            if given
        ]
        if len(bodies) > 1:
            raise ValueError(f"give one body, not {' and '.join(bodies)}")
        return self


class DownloadParams(RequestBase):
    """`http.download`."""

    path: str = Field(
        min_length=1, description="Where to write the body: a local path or a storage URL (s3://, sftp://...)."
    )
    overwrite: bool = Field(default=False, description="Replace an existing file.")
    storage_credential: str | None = storage_credential_field()


class PaginateParams(RequestBase):
    """`http.paginate`."""

    mode: Literal["next_link", "link_header", "cursor", "page"] = Field(
        description="How the next page is found: a URL in the body, the `Link` header, a cursor, or a page number."
    )
    items: str = Field(
        default="", description="JMESPath to the list of rows in each page (e.g. `data`); empty: the body is the list."
    )
    next_field: str = Field(default="next", description="next_link: JMESPath to the next page's URL in the body.")
    cursor_field: str = Field(default="next_cursor", description="cursor: JMESPath to the next cursor in the body.")
    cursor_param: str = Field(default="cursor", description="cursor: the query parameter that sends it back.")
    page_param: str = Field(default="page", description="page: the query parameter of the page number.")
    first_page: int = Field(default=1, ge=0, description="page: the number of the first page.")
    max_pages: int = Field(default=100, ge=1, description="Fail when there are more pages than this.")
