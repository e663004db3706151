"""A flow's assets: the files it names by a path relative to its own folder.

A step param marked `"x-rpa-asset": "file"` (`shared.steps.ASSET_FILE`) names one file; a desktop
target marked `"x-rpa-asset": "targets"` (`shared.steps.ASSET_TARGETS`) names one in each of its
`image:` segments (`image:images/ok.png >> offset:40,0`). Such a file travels with the flow: the
orchestrator stores it with the published version and the agent lays it out next to the flow
(`context().flow_dir`) before the run. Values that are not assets: expressions (known only at run
time), absolute paths (a file on the agent's own disk), `data:` URIs (inside the document) and URLs.

An asset's name is normalised (`./a//b.png` -> `a/b.png`, `\\` -> `/`); a name that climbs out of
the flow's folder (`..`), or holds characters no file system accepts everywhere, is a problem with
the JSON path of its param. Files are checked by content (`check_asset`): an image must be an image.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from shared.expressions import is_template
from shared.flow._credentials import marked_values, params_schema
from shared.flow._walk import walk_nodes
from shared.steps import StepRegistry

__all__ = [
    "ASSET_CONTENT_TYPES",
    "ASSET_MARK",
    "MAX_ASSETS",
    "MAX_ASSET_BYTES",
    "MAX_VERSION_ASSET_BYTES",
    "AssetError",
    "AssetUse",
    "asset_uses",
    "check_asset",
    "find_assets",
    "image_paths",
    "is_flow_relative",
    "normalise_asset_path",
]

Parts = tuple[str | int, ...]

ASSET_MARK = "x-rpa-asset"
MAX_ASSET_BYTES = 5 * 1024 * 1024
"""Default size limit of one asset (an image target is a few kilobytes)."""
MAX_VERSION_ASSET_BYTES = 50 * 1024 * 1024
"""Default size limit of all the assets of one version together."""
MAX_ASSETS = 500
"""Default limit of files per version."""

_MAX_NAME = 255
_BAD_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"|?*]')
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")

# Content types by suffix, and how the content of each is recognised.
_IMAGES = {
    ".png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".gif": ("image/gif", (b"GIF87a", b"GIF89a")),
    ".bmp": ("image/bmp", (b"BM",)),
}
_ZIPS = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_TEXTS = {
    ".json": "application/json",
    ".html": "text/html",
    ".htm": "text/html",
    ".txt": "text/plain",
    ".csv": "text/csv",
}

ASSET_CONTENT_TYPES = tuple(
    sorted({content_type for content_type, _ in _IMAGES.values()} | set(_ZIPS.values()) | set(_TEXTS.values()))
)
"""Every content type an asset is stored and served with."""


class AssetError(ValueError):
    """An asset name or file that cannot travel with a flow; the message says why."""


@dataclass(frozen=True, slots=True)
class AssetUse:
    """One reference of a param to a file: the name as written, normalised (or the problem)."""

    written: str
    parts: Parts
    """JSON path parts of the param (`("nodes", 2, "params", "target")`)."""
    name: str | None
    """The normalised name; None when `problem` says why it is not a valid asset name."""
    problem: str | None = None


def normalise_asset_path(name: str) -> str:
    """The canonical form of an asset's relative path (`a/b.png`).

    Raises:
        AssetError: an empty, absolute or climbing (`..`) path, or one with unsafe characters.
    """
    text = name.strip().replace("\\", "/")
    if not text:
        raise AssetError("an asset path is empty")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        raise AssetError(f"'{name}' is absolute; an asset is named relative to the flow's folder")
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise AssetError(f"'{name}' leaves the flow's folder (..); keep assets in it or below it")
    if not parts:
        raise AssetError(f"'{name}' names no file")
    if _BAD_CHARS.search(text):
        raise AssetError(f"'{name}' holds a character not allowed in a file name (control, <>:\"|?*)")
    clean = "/".join(parts)
    if len(clean) > _MAX_NAME:
        raise AssetError(f"'{name[:60]}...' is longer than {_MAX_NAME} characters")
    return clean


def is_flow_relative(value: str) -> bool:
    """True for a literal relative path: not an expression, absolute path, `data:` URI or URL."""
    text = value.strip()
    if not text or is_template(text):
        return False
    if text.startswith(("/", "~", "\\")) or re.match(r"^[A-Za-z]:[\\/]", text):
        return False  # a file on the agent's own disk
    return not _SCHEME.match(text)  # data:, http:, s3: ...


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _segments(target: str) -> Iterator[str]:
    """The raw segments of a desktop target; `>>` inside double quotes does not split."""
    start, index, quoted = 0, 0, False
    while index < len(target):
        char = target[index]
        if char == "\\" and quoted:
            index += 2
            continue
        if char == '"':
            quoted = not quoted
        elif not quoted and target.startswith(">>", index):
            yield target[start:index]
            start = index + 2
            index += 1
        index += 1
    yield target[start:]


def image_paths(target: str) -> list[str]:
    """The file values of a desktop target's `image:` segments (`data:` URIs included)."""
    found = []
    for segment in _segments(target):
        head, colon, value = segment.strip().partition(":")
        if colon and head.strip().lower() == "image":
            found.append(_unquote(value))
    return found


def _written(mark: Any, value: Any) -> Iterator[str]:
    values = value if isinstance(value, list) else [value]
    for item in values:
        if not isinstance(item, str) or is_template(item):
            continue
        yield from image_paths(item) if mark == "targets" else [item]


def asset_uses(document: Any, registry: StepRegistry) -> list[AssetUse]:
    """Every reference of a marked param to a flow-relative file, in document order.

    Args:
        document: a parsed flow document (drafts may be invalid: what cannot be read is passed over).
        registry: the step catalogue whose params schemas carry the `x-rpa-asset` marks.
    """
    uses: list[AssetUse] = []
    for visit in walk_nodes(document, registry):
        step_type = visit.node.get("type")
        params = visit.node.get("params")
        if not isinstance(step_type, str) or step_type not in registry or not isinstance(params, dict):
            continue
        schema = params_schema(registry.get(step_type).params)
        defs = schema.get("$defs") or {}
        for mark, value, parts in marked_values(schema, params, (*visit.parts, "params"), defs, ASSET_MARK):
            for written in _written(mark, value):
                if not is_flow_relative(written):
                    continue
                try:
                    uses.append(AssetUse(written, parts, normalise_asset_path(written)))
                except AssetError as exc:
                    uses.append(AssetUse(written, parts, None, str(exc)))
    return uses


def find_assets(document: Any, registry: StepRegistry) -> dict[str, list[Parts]]:
    """The flow's assets: normalised name -> JSON path parts of each param naming it.

    Names that are not valid asset names are left out (`asset_uses` reports them).
    """
    found: dict[str, list[Parts]] = {}
    for use in asset_uses(document, registry):
        if use.name is not None:
            paths = found.setdefault(use.name, [])
            if use.parts not in paths:
                paths.append(use.parts)
    return found


def check_asset(name: str, data: bytes) -> str:
    """Check an asset's content against its kind (by suffix); its content type.

    Allowed: images (png, jpeg, gif, bmp), Word and Excel files (docx, xlsx), UTF-8 text (json,
    html, txt, csv; a `.json` must parse).

    Raises:
        AssetError: an unknown kind, or content that is not what the name says.
    """
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in _IMAGES:
        content_type, magics = _IMAGES[suffix]
        if not data.startswith(magics):
            raise AssetError(f"'{name}' is not a {suffix[1:].upper()} image (its content does not match)")
        return content_type
    if suffix in _ZIPS:
        if not data.startswith(b"PK\x03\x04"):
            raise AssetError(f"'{name}' is not a {suffix[1:]} file (not a ZIP package)")
        return _ZIPS[suffix]
    if suffix in _TEXTS:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise AssetError(f"'{name}' is not UTF-8 text") from None
        if suffix == ".json":
            try:
                json.loads(text)
            except ValueError as exc:
                raise AssetError(f"'{name}' is not valid JSON ({exc})") from None
        return _TEXTS[suffix]
    kinds = ", ".join(sorted({*_IMAGES, *_ZIPS, *_TEXTS}))
    raise AssetError(f"'{name}': files of this kind cannot be assets (allowed: {kinds})")
