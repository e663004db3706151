"""Which messages a step acts on: UIDs, or the messages a search returned (their `uid` and
`uidvalidity`), so a flow can pass `{{ item }}` or `{{ steps.find.output }}` as they are."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from shared.errors import BusinessError

__all__ = ["MessageRefs", "check_uidvalidity", "uids_of"]


def _refs(value: Any) -> Any:
    items = value if isinstance(value, list) else [value]
    refs = []
    for item in items:
        if isinstance(item, dict):
            if "uid" not in item:
                raise ValueError("a message given as an object needs its 'uid' (as email.search returns it)")
            refs.append({"uid": item["uid"], "uidvalidity": item.get("uidvalidity")})
        else:
            refs.append({"uid": item, "uidvalidity": None})
    return refs


MessageRefs = Annotated[
    list[dict[str, int | None]],
    BeforeValidator(_refs),
    Field(
        min_length=1,
        description="The messages: UIDs (12 or [12, 13]), or messages as email.search returns them "
        "({{ item }}, {{ steps.find.output }}).",
    ),
]


def uids_of(refs: list[dict[str, int | None]]) -> list[int]:
    """The UIDs, in order, without repeats."""
    return list(dict.fromkeys(int(ref["uid"] or 0) for ref in refs))


def check_uidvalidity(refs: list[dict[str, int | None]], folder: str, current: int) -> None:
    """Refuse to act when the folder's UIDVALIDITY changed since the messages were found: the
    same UIDs may now name other messages.

    Raises:
        BusinessError: kind `uidvalidity_changed`.
    """
    stale = {ref["uidvalidity"] for ref in refs if ref["uidvalidity"] is not None and ref["uidvalidity"] != current}
    if stale:
        raise BusinessError(
            f"folder '{folder}' was renumbered (UIDVALIDITY {sorted(stale)[0]} -> {current}): search again",
            kind="uidvalidity_changed",
        )
