"""What the resource namespaces share: the client they call through, and reading pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from shared.client._models import ApiModel, Page

if TYPE_CHECKING:
    from collections.abc import Callable

M = TypeVar("M", bound=ApiModel)


class Caller(Protocol):
    """The part of `ApiClient` the namespaces use (a Protocol: the client imports them, not back)."""

    def request(self, method: str, path: str, **kwargs: Any) -> Any: ...

    def send(self, method: str, path: str, **kwargs: Any) -> Any: ...

    def stream(self, execution_id: str, *, follow: bool, after_seq: int = 0) -> Iterator[tuple[str, Any]]: ...


class Resource:
    """One resource of the API (`client.workflows`, `client.executions`, ...)."""

    def __init__(self, client: Caller) -> None:
        self._client = client


def page_of(model: type[M], data: Any) -> Page[M]:
    """A page of the API (`{items, total, limit, offset, ...}`) with its items read as `model`."""
    return Page[model].model_validate(data)  # type: ignore[valid-type]


def every(fetch: Callable[[int], Page[M]]) -> list[M]:
    """All the items of a list, page after page (`fetch(offset)` gives the page at `offset`)."""
    items: list[M] = []
    while True:
        page = fetch(len(items))
        items.extend(page.items)
        if not page.items or len(items) >= page.total:
            return items


def drop_none(**values: Any) -> dict[str, Any]:
    """Query parameters or body fields without the ones left at None."""
    return {k: v for k, v in values.items() if v is not None}
