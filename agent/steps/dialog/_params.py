"""Params models of the dialog steps (the studio builds their forms from these)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent.attended._dialogs import FormField

_TIMEOUT = Field(
    default=300.0, gt=0, le=86_400, description="Seconds to wait for an answer; then the default, or a timeout error."
)


class _Dialog(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(default="", max_length=200, description="The dialog's title (default: 'Robot').")
    message: str = Field(default="", max_length=5000, description="What the dialog says.")
    timeout_s: float = _TIMEOUT


class MessageParams(_Dialog):
    default: Literal["ok"] | None = Field(
        default=None, description="'ok' to go on without a person (headless agent, or no answer in time)."
    )


class ConfirmParams(_Dialog):
    default: bool | None = Field(default=None, description="The answer without a person, or none: fail instead.")


class FieldParams(BaseModel):
    """One field of an input form."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", description="The key of the answer in the output.")
    type: Literal["text", "password", "number", "date", "choice", "checkbox", "file"] = Field(
        default="text", description="What the field holds."
    )
    label: str = Field(default="", max_length=200, description="Shown next to the field (default: its name).")
    required: bool = Field(default=False, description="An empty answer is refused.")
    default: Any = Field(default=None, description="The value the field starts with.")
    options: list[str] = Field(default_factory=list, description="For a choice: the allowed values.")
    minimum: float | None = Field(default=None, description="For a number: the smallest allowed.")
    maximum: float | None = Field(default=None, description="For a number: the largest allowed.")
    pattern: str | None = Field(default=None, description="For text: a regular expression the value must match.")

    @model_validator(mode="after")
    def _consistent(self) -> FieldParams:
        if self.type == "choice" and not self.options:
            raise ValueError(f"field '{self.name}' is a choice: give its options")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as err:
                raise ValueError(f"field '{self.name}': pattern does not compile ({err})") from None
        return self

    def spec(self) -> FormField:
        """The host's view of the field."""
        return FormField(
            self.name,
            self.type,
            self.label or self.name,
            self.required,
            self.default,
            tuple(self.options),
            self.minimum,
            self.maximum,
            self.pattern,
        )


class InputParams(_Dialog):
    fields: list[FieldParams] = Field(min_length=1, max_length=50, description="The form's fields, in order.")
    default: dict[str, Any] | None = Field(
        default=None, description="The answers without a person (checked like the person's), or none: fail instead."
    )

    @field_validator("fields")
    @classmethod
    def _unique(cls, fields: list[FieldParams]) -> list[FieldParams]:
        names = [f.name for f in fields]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"field names appear twice: {', '.join(twice)}")
        return fields


class ChooseFileParams(_Dialog):
    filters: list[str] = Field(default_factory=list, description="Glob patterns offered, e.g. '*.xlsx'.")
    must_exist: bool = Field(default=True, description="Refuse a path that is not an existing file.")
    default: str | None = Field(default=None, description="The path without a person, or none: fail instead.")


class ChooseFolderParams(_Dialog):
    must_exist: bool = Field(default=True, description="Refuse a path that is not an existing folder.")
    default: str | None = Field(default=None, description="The path without a person, or none: fail instead.")


class SelectParams(_Dialog):
    options: list[str] = Field(min_length=1, max_length=1000, description="What the person chooses from.")
    multiple: bool = Field(default=False, description="Allow several; the output is then a list.")
    default: str | list[str] | None = Field(default=None, description="The choice without a person, or none.")


class ReviewTableParams(_Dialog):
    table: list[dict[str, Any]] = Field(description="The rows to show (a table value).")
    editable: bool = Field(default=False, description="Let the person edit the cells.")
    default: Literal["accept"] | None = Field(
        default=None, description="'accept': without a person, the table goes on unchanged."
    )
