"""The settings of each trigger kind, as pydantic models: the API validates a trigger's `config`
with its kind's model (a 422 names the JSON path), and the runner reads it back through it.

The kinds of `TriggerSource`s (`email`, `files`, `database`) bring their own model
(`TriggerSource.config_model`), registered with `register_source`.
"""

from __future__ import annotations

import ipaddress
import zoneinfo
from datetime import date
from typing import Any, Literal

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from orchestrator.errors import Invalid
from orchestrator.triggers._registry import source_kinds
from shared.expressions import check_syntax
from shared.states import TerminalStatus

MAX_WEBHOOK_BODY = 10 * 1024 * 1024


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Signature(_Config):
    """An HMAC over the body (and, Stripe style, a timestamp), keyed by a vault credential."""

    style: Literal["github", "stripe", "plain"] = Field(
        default="github",
        description=(
            "`github`: `X-Hub-Signature-256: sha256=<hex>` over the body; `stripe`: `Stripe-Signature: "
            "t=<unix>,v1=<hex>` over `t.body`, refused outside `tolerance_s`; `plain`: `<hex>` over the body."
        ),
    )
    header: str | None = Field(default=None, max_length=100, description="Header name (default per style).")
    algorithm: Literal["sha256", "sha1"] = Field(default="sha256", description="The HMAC's hash.")
    secret: str = Field(min_length=1, max_length=200, description="Vault credential holding the key (`NAME.field`).")
    tolerance_s: int = Field(default=300, ge=1, le=86400, description="Stripe style: largest age of `t`.")

    @property
    def header_name(self) -> str:
        if self.header:
            return self.header
        if self.style == "stripe":
            return "Stripe-Signature"
        return "X-Hub-Signature-256" if self.algorithm == "sha256" else "X-Hub-Signature"


class WebhookConfig(_Config):
    """`POST /api/v1/hooks/{token}` starts the workflow."""

    signature: Signature | None = Field(default=None, description="Refuse calls without a valid HMAC.")
    allow_ips: list[str] = Field(default_factory=list, max_length=100, description="CIDRs; empty: anyone.")
    max_body_bytes: int = Field(default=1024 * 1024, ge=1, le=MAX_WEBHOOK_BODY, description="Largest body.")
    respond: Literal["accepted", "wait", "node"] = Field(
        default="accepted",
        description=(
            "`accepted`: 202 with the execution id at once; `wait`: 200 with the outputs once it ends "
            "(202 with the id after `wait_s`); `node`: like wait, answering one node's output."
        ),
    )
    wait_s: float = Field(default=30.0, gt=0, le=300, description="How long `wait` and `node` wait.")
    node: str | None = Field(default=None, max_length=200, description="The node whose output `node` answers.")

    @field_validator("allow_ips")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)  # ValueError names the bad one
        return value

    @model_validator(mode="after")
    def _node_named(self) -> WebhookConfig:
        if self.respond == "node" and not self.node:
            raise ValueError("respond 'node' needs `node`: the id of the node whose output is answered")
        return self


class ScheduleConfig(_Config):
    """Due times from a cron expression or a fixed interval, in a time zone."""

    cron: str | None = Field(default=None, max_length=200, description="5 fields, or 6 with seconds first.")
    every_s: float | None = Field(default=None, ge=1, le=366 * 86400, description="A fixed interval instead.")
    timezone: str = Field(default="UTC", max_length=64, description="IANA zone the cron is read in.")
    exclude_dates: list[date] = Field(default_factory=list, max_length=1000, description="Days never fired.")
    exclude_weekdays: list[int] = Field(default_factory=list, description="0 = Monday … 6 = Sunday.")
    overlap: Literal["skip", "buffer_one", "allow", "cancel_running"] = Field(
        default="skip", description="What a due time does while the last execution still runs."
    )
    catch_up: Literal["none", "latest", "all"] = Field(
        default="latest", description="Due times missed while no process ran the trigger."
    )
    catch_up_window_s: float = Field(default=3600, ge=0, le=30 * 86400, description="`all`: how far back.")
    jitter_s: float = Field(default=0, ge=0, le=3600, description="Each fire is delayed by up to this much.")

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        fields = value.split()
        if len(fields) not in (5, 6) or not croniter.is_valid(_cron_text(value)):
            raise ValueError(f"'{value}' is not a cron expression of 5 fields (or 6, seconds first)")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{value}' is not an IANA time zone (e.g. Europe/Paris)") from None
        return value

    @field_validator("exclude_weekdays")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if any(day not in range(7) for day in value):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        return value

    @model_validator(mode="after")
    def _one_timing(self) -> ScheduleConfig:
        if (self.cron is None) == (self.every_s is None):
            raise ValueError("give either `cron` or `every_s`")
        return self


def _cron_text(expression: str) -> str:
    """croniter reads seconds as a sixth field at the end; users write them first."""
    fields = expression.split()
    return " ".join([*fields[1:], fields[0]]) if len(fields) == 6 else expression


EndState = TerminalStatus
"""How an execution ends (the chain trigger's `statuses`)."""


def _succeeded() -> list[EndState]:
    return ["succeeded"]


class ChainConfig(_Config):
    """When `after_workflow` ends in one of `statuses`, start this trigger's workflow."""

    after_workflow: str = Field(description="Id of the workflow whose end starts this one.")
    statuses: list[EndState] = Field(default_factory=_succeeded, min_length=1, description="Which ends start it.")


class EventConfig(_Config):
    """A named event on the bus (`POST /api/v1/events`, or the orchestrator's own) starts it."""

    name: str = Field(min_length=1, max_length=200, description="Event name, e.g. `execution.failed`.")
    filter: str | None = Field(default=None, max_length=2000, description="Expression over `event`; falsy: skip.")

    @field_validator("filter")
    @classmethod
    def _filter(cls, value: str | None) -> str | None:
        if value is not None:
            problems = check_syntax(filter_template(value))
            if problems:
                raise ValueError(f"the filter is not a valid expression: {problems[0][1]}")
        return value


def filter_template(expression: str) -> str:
    """A filter as one template: `event.payload.amount > 10` or `{{ … }}` alike."""
    return expression if "{{" in expression else "{{ " + expression + " }}"


BUILTIN: dict[str, type[BaseModel]] = {
    "webhook": WebhookConfig,
    "schedule": ScheduleConfig,
    "chain": ChainConfig,
    "event": EventConfig,
}


def config_model(kind: str) -> type[BaseModel]:
    """The settings model of `kind`.

    Raises:
        Invalid: no such kind (built in or registered).
    """
    model = BUILTIN.get(kind) or source_kinds().get(kind)
    if model is None:
        known = sorted({*BUILTIN, *source_kinds()})
        raise Invalid(
            f"kind: '{kind}' is not a trigger kind; known: {', '.join(known)}",
            details=[{"location": "body.kind", "message": f"one of {known}"}],
        )
    return model


def parse_config(kind: str, config: dict[str, Any]) -> BaseModel:
    """`config` validated by its kind's model.

    Raises:
        Invalid: each problem with its path (`config.signature.secret: …`).
    """
    model = config_model(kind)
    try:
        return model.model_validate(config)
    except ValidationError as exc:
        problems = [
            {
                "location": ".".join(["body", "config", *(str(p) for p in error["loc"])]),
                "message": error["msg"],
            }
            for error in exc.errors()
        ]
        text = "; ".join(f"{p['location'].removeprefix('body.')}: {p['message']}" for p in problems)
        raise Invalid(f"the {kind} trigger's config is not valid: {text}", code="invalid_config", details=problems)
