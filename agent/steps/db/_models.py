"""Params models of the `db.*` steps."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.steps import CREDENTIAL_NAME

Bind = dict[str, Any]


def check_url(value: str) -> str:
    """A database URL's shape, checked before a run; a password in it is refused."""
    if "://" not in value or value.startswith("://"):
        raise ValueError("not a database URL (dialect://user@host/db)")
    authority = value.split("://", 1)[1].split("/", 1)[0]
    if "@" in authority and ":" in authority.rsplit("@", 1)[0]:
        raise ValueError("put the password in a credential ('credential'), not in the URL")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Target(_Model):
    """Where a statement runs: a database URL, or a transaction opened by `db.begin`."""

    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL without the password, e.g. `postgresql://robot@db.local/erp` or "
        "`sqlite:///data/app.db`.",
    )
    credential: str | None = Field(
        json_schema_extra=CREDENTIAL_NAME,
        default=None,
        description="Credential name: its password (main value) and `username` field if the URL has none.",
    )
    transaction: str | None = Field(
        default=None, description="Run inside the transaction `db.begin` opened under this name instead of `url`."
    )

    @model_validator(mode="after")
    def _one_target(self) -> Target:
        if (self.url is None) == (self.transaction is None):
            raise ValueError("give either 'url' or 'transaction'")
        if self.transaction is not None and self.credential is not None:
            raise ValueError("'credential' goes with 'url'; the transaction already has its connection")
        return self

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value)


class QueryParams(Target):
    """`db.query`."""

    sql: str = Field(min_length=1, description="A SELECT with `:name` placeholders.")
    params: Bind = Field(default_factory=dict, description="Values bound to the placeholders (never pasted into SQL).")
    max_rows: int = Field(default=10_000, ge=1, description="Fail rather than load more rows (use db.export_csv).")
    chunk_size: int = Field(default=1000, ge=1, description="Rows fetched per round trip.")


class ExecuteParams(Target):
    """`db.execute`."""

    sql: str = Field(min_length=1, description="An INSERT, UPDATE, DELETE or DDL with `:name` placeholders.")
    params: Bind | list[Bind] = Field(
        default_factory=dict, description="Values bound to the placeholders; a list runs the statement once per item."
    )


class InsertParams(Target):
    """`db.insert`."""

    table: str = Field(
        min_length=1,
        pattern=r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$",
        description="Table (or schema.table).",
    )
    rows: list[dict[str, Any]] = Field(description="A table: the columns are the first row's keys.")
    chunk_size: int = Field(default=1000, ge=1, description="Rows sent per executemany batch.")


class ExportCsvParams(QueryParams):
    """`db.export_csv`."""

    path: str = Field(min_length=1, description="The CSV file to write.")
    overwrite: bool = Field(default=False, description="Replace an existing file.")
    max_rows: int = Field(default=0, ge=0, description="0: no limit (rows are streamed, never all in memory).")
    delimiter: str = Field(default=",", min_length=1, max_length=1, description="Field delimiter.")


class BeginParams(_Model):
    """`db.begin`."""

    url: str = Field(min_length=1, description="SQLAlchemy URL without the password.")
    credential: str | None = Field(
        json_schema_extra=CREDENTIAL_NAME, default=None, description="Credential name for the password (and username)."
    )
    name: str = Field(default="main", min_length=1, description="The transaction's name, used by later steps.")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value)


class EndParams(_Model):
    """`db.commit` / `db.rollback`."""

    name: str = Field(default="main", min_length=1, description="The transaction opened by `db.begin`.")
