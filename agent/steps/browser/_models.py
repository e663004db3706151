"""Params shared by the browser steps: which session, which frame, how long to wait."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.steps import CREDENTIAL_NAME

__all__ = [
    "DEFAULT_SESSION",
    "FrameRef",
    "PageParams",
    "ProxySpec",
    "Viewport",
]

DEFAULT_SESSION = "main"
_SESSION_NAME = r"^[A-Za-z0-9_.-]{1,64}$"


class Viewport(BaseModel):
    """A page size in CSS pixels."""

    model_config = ConfigDict(extra="forbid")
    width: int = Field(1280, ge=100, le=7680, description="Width in CSS pixels.")
    height: int = Field(800, ge=100, le=4320, description="Height in CSS pixels.")


class ProxySpec(BaseModel):
    """A proxy server; its user name and password come from a credential, never from the flow."""

    model_config = ConfigDict(extra="forbid")
    server: str = Field(description="Proxy URL, e.g. `http://proxy.local:3128` or `socks5://10.0.0.2:1080`.")
    bypass: str | None = Field(None, description="Comma-separated hosts that skip the proxy, e.g. `.local,127.0.0.1`.")
    credential: str | None = Field(
        None,
        json_schema_extra=CREDENTIAL_NAME,
        description="Name of a credential with `username` and `password` fields for the proxy.",
    )

    @field_validator("server")
    @classmethod
    def _has_scheme(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError("a proxy server needs a scheme, e.g. http://host:3128")
        return value


class FrameRef(BaseModel):
    """One iframe, found by the selector of its element, its name or its URL (a glob)."""

    model_config = ConfigDict(extra="forbid")
    selector: str | None = Field(None, description="CSS/XPath selector of the `<iframe>` element.")
    name: str | None = Field(None, description="The frame's `name` attribute.")
    url: str | None = Field(None, description="A glob the frame's URL matches, e.g. `**/checkout/*`.")

    @model_validator(mode="after")
    def _exactly_one(self) -> FrameRef:
        given = [k for k in ("selector", "name", "url") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("a frame is found by exactly one of selector, name or url")
        return self


class PageParams(BaseModel):
    """Base of the steps that act on the active tab of a session."""

    model_config = ConfigDict(extra="forbid")
    session: str = Field(DEFAULT_SESSION, pattern=_SESSION_NAME, description="Name of the browser session.")
    frame: str | FrameRef | list[FrameRef] | None = Field(
        None,
        description=(
            "Act inside an iframe: a selector of the `<iframe>` element, a frame given by selector, "
            "name or URL glob, or a list of them from the outermost in (nested frames)."
        ),
    )
    timeout_s: float = Field(30.0, gt=0, le=3600, description="How long to wait for the element or the page.")


WaitUntil = Literal["load", "domcontentloaded", "networkidle", "commit"]
