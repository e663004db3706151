"""The fingerprint of an element: what it looked like when it was recorded, for self-healing.

About fifteen attributes, the ones the Similo method (Nass, Alégroth, Feldt et al.) compares:
tag, id, name, classes, type, role, accessible name, visible text, placeholder, label, href,
alt, XPath, box (position and size) and the text of neighbouring elements; plus a test id,
a title and a small screenshot kept as an artifact for people reviewing a healed target.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ElementBox(BaseModel):
    """Position and size in CSS pixels, relative to the page's top-left corner."""

    model_config = ConfigDict(extra="forbid")

    x: float = Field(description="Left edge.")
    y: float = Field(description="Top edge.")
    width: float = Field(ge=0, description="Width.")
    height: float = Field(ge=0, description="Height.")


class Fingerprint(BaseModel):
    """The recorded attributes of one element (empty string = the element had none)."""

    model_config = ConfigDict(extra="forbid")

    tag: str = Field(default="", description="Lower-case tag name, e.g. 'input'.")
    id: str = Field(default="", description="The id attribute.")
    name: str = Field(default="", description="The name attribute.")
    classes: list[str] = Field(default_factory=list, description="The class names.")
    type: str = Field(default="", description="The type attribute (inputs, buttons).")
    role: str = Field(default="", description="The ARIA role, explicit or implied by the tag.")
    accessible_name: str = Field(default="", description="The accessible name (aria-label, label, text...).")
    text: str = Field(default="", description="The visible text, whitespace collapsed, at most 200 characters.")
    placeholder: str = Field(default="", description="The placeholder attribute.")
    label: str = Field(default="", description="The text of the element's <label>, if any.")
    href: str = Field(default="", description="The href attribute (links).")
    alt: str = Field(default="", description="The alt attribute (images).")
    title: str = Field(default="", description="The title attribute.")
    test_id: str = Field(default="", description="The data-testid attribute.")
    xpath: str = Field(default="", description="An absolute XPath, e.g. /html/body/form/input[2].")
    box: ElementBox | None = Field(default=None, description="Where the element was on the page.")
    neighbours: list[str] = Field(
        default_factory=list, description="Texts next to the element (its row, its label, its group)."
    )
    screenshot: str | None = Field(
        default=None, description="The artifact holding a small screenshot of the element, when one was taken."
    )
