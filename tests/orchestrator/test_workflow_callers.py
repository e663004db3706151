"""Breaking changes at publish: the workflows calling a sub-flow by name, and which of its draft's
interface changes break each call (GET /workflows/{id}/callers, POST /workflows/{id}/publish-check)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from orchestrator.services.workflow_callers import CallSite, InterfaceChange, breaks_of, interface_changes
from tests.orchestrator._identity_helpers import fast_hashing
from tests.orchestrator._workflows_helpers import API, create, flow, log, patch, publish
from tests.orchestrator.conftest import TenantFactory

__all__ = ["fast_hashing"]  # a fixture used here

pytestmark = pytest.mark.usefixtures("fast_hashing")  # members are made, not what is tested

CHILD = flow(
    "Child",
    [log("hello")],
    inputs={"a": {"type": "string", "required": True}, "b": {"type": "number", "default": 1}},
    outputs={"total": "{{ steps.hello.output }}", "extra": 1},
)


def _call(node_id: str, inputs: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "flow.call", "params": {"flow": "Child", "inputs": inputs}}


def child_draft() -> dict[str, Any]:
    """`b` removed, `c` added as required, `a` now a number, output `total` removed."""
    return flow(
        "Child",
        [log("hello")],
        inputs={"a": {"type": "number", "required": True}, "c": {"type": "string", "required": True}},
        outputs={"extra": 1},
    )


async def _setup(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, str]:
    ids = {"Child": (await create(client, headers, "Child", CHILD))["id"]}
    await publish(client, headers, ids["Child"])
    # Parent1 (published): passes a and b, reads the output `total`.
    parent1 = flow(
        "Parent1",
        [_call("call", {"a": "x", "b": 2}), log("after", "{{ steps.call.output.total }}")],
        [{"from": "call", "to": "after"}],
    )
    ids["Parent1"] = (await create(client, headers, "Parent1", parent1))["id"]
    await publish(client, headers, ids["Parent1"])
    # Parent2 (draft only): the call inside a loop, passes only a, reads `extra`.
    inner = _call("inner", {"a": "y"})
    loop = {"id": "each", "type": "control.foreach", "params": {"items": [1]}, "body": {"nodes": [inner]}}
    parent2 = flow("Parent2", [loop, log("use", "{{ steps.inner.output.extra }}")])
    ids["Parent2"] = (await create(client, headers, "Parent2", parent2))["id"]
    # Parent3: its inputs are an expression (unreadable).
    parent3 = flow("Parent3", [_call("dyn", "{{ vars.all }}")], variables={"all": {}})
    ids["Parent3"] = (await create(client, headers, "Parent3", parent3))["id"]
    ids["Other"] = (await create(client, headers, "Other", flow("Other")))["id"]
    await patch(client, headers, ids["Child"], document=child_draft())
    return ids


async def test_publish_check_lists_each_caller_with_what_breaks_it(
    client: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    owner = await tenant()
    ids = await _setup(client, owner.headers)
    answer = await client.post(f"{API}/workflows/{ids['Child']}/publish-check", headers=owner.headers)
    assert answer.status_code == 200, answer.text
    check = answer.json()
    assert check["published_version"] == 1
    assert check["breaking"] is True
    assert [(c["kind"], c["name"]) for c in check["changes"]] == [
        ("input_type_changed", "a"),
        ("input_removed", "b"),
        ("input_required_added", "c"),
        ("output_removed", "total"),
    ]
    callers = {c["name"]: c for c in check["callers"]}
    assert list(callers) == ["Parent1", "Parent2", "Parent3"]  # not "Other", not the child itself
    assert callers["Parent1"]["calls"] == [{"ref": "1", "node": "call"}, {"ref": "draft", "node": "call"}]
    assert callers["Parent2"]["calls"] == [{"ref": "draft", "node": "inner"}]

    def broken(name: str) -> set[tuple[str, str, str]]:
        return {(b["ref"], b["kind"], b["name"]) for b in callers[name]["breaks"]}

    assert broken("Parent1") == {
        (ref, kind, name)
        for ref in ("1", "draft")
        for kind, name in (
            ("input_type_changed", "a"),  # passes the text "x" to what is now a number
            ("input_removed", "b"),
            ("input_required_added", "c"),
            ("output_removed", "total"),
        )
    }
    assert broken("Parent2") == {  # b not passed, `extra` still there
        ("draft", "input_type_changed", "a"),
        ("draft", "input_required_added", "c"),
    }
    assert broken("Parent3") == {  # unreadable inputs: every input change; no output read
        ("draft", "input_type_changed", "a"),
        ("draft", "input_removed", "b"),
        ("draft", "input_required_added", "c"),
    }
    assert "input 'b' was removed" in {b["message"] for b in callers["Parent1"]["breaks"]}
    listed = await client.get(f"{API}/workflows/{ids['Child']}/callers", headers=owner.headers)
    assert listed.status_code == 200
    assert [c["name"] for c in listed.json()["callers"]] == ["Parent1", "Parent2", "Parent3"]


async def test_a_compatible_draft_breaks_nobody(client: httpx.AsyncClient, tenant: TenantFactory) -> None:
    owner = await tenant()
    ids = await _setup(client, owner.headers)
    compatible = {**CHILD, "inputs": {**CHILD["inputs"], "d": {"type": "string", "default": "x"}}}
    await patch(client, owner.headers, ids["Child"], document=compatible)
    check = (await client.post(f"{API}/workflows/{ids['Child']}/publish-check", headers=owner.headers)).json()
    assert check["changes"] == []
    assert check["breaking"] is False
    assert all(c["breaks"] == [] for c in check["callers"])
    assert len(check["callers"]) == 3


async def test_readers_may_check_other_organisations_may_not(client: httpx.AsyncClient, tenant: TenantFactory) -> None:
    owner = await tenant()
    ids = await _setup(client, owner.headers)
    viewer = await tenant(org_id=owner.org_id, role="viewer")
    seen = await client.post(f"{API}/workflows/{ids['Child']}/publish-check", headers=viewer.headers)
    assert seen.status_code == 200
    assert seen.json()["breaking"] is True
    stranger = await tenant()
    for method, path in (("POST", "publish-check"), ("GET", "callers")):
        hidden = await client.request(method, f"{API}/workflows/{ids['Child']}/{path}", headers=stranger.headers)
        assert hidden.status_code == 404
    assert (await client.get(f"{API}/workflows/{ids['Child']}/callers")).status_code == 401


async def test_a_never_published_workflow_has_nothing_to_break(
    client: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    owner = await tenant()
    child = await create(client, owner.headers, "Child", CHILD)
    await create(client, owner.headers, "Parent", flow("Parent", [_call("call", {"a": "x"})]))
    check = (await client.post(f"{API}/workflows/{child['id']}/publish-check", headers=owner.headers)).json()
    assert check["published_version"] is None
    assert check["changes"] == []
    assert [c["name"] for c in check["callers"]] == ["Parent"]


def test_a_literal_of_the_new_type_still_fits_and_required_becomes_breaking() -> None:
    before = {"inputs": {"n": {"type": "string"}, "m": {"type": "string"}}}
    after = {"inputs": {"n": {"type": "integer"}, "m": {"type": "string", "required": True}}}
    changes = interface_changes(before, after)
    assert [(c.kind, c.name) for c in changes] == [("input_type_changed", "n"), ("input_now_required", "m")]
    fits = CallSite("draft", "call", {"n": 3, "m": "x"})
    assert breaks_of(changes, fits, {}) == []
    wrong = CallSite("draft", "call", {"n": True})  # a boolean is not an integer; m not passed
    assert [c.kind for c in breaks_of(changes, wrong, {})] == ["input_type_changed", "input_now_required"]
    expression = CallSite("draft", "call", {"n": "{{ vars.n }}", "m": "x"})
    assert [c.kind for c in breaks_of(changes, expression, {})] == ["input_type_changed"]
    removed = [InterfaceChange("output_removed", "total")]
    whole = {"nodes": [log("x", "{{ steps.call.output }}")]}
    other = {"nodes": [log("x", "{{ steps.call.output.extra }} {{ steps.caller.output.total }}")]}
    assert breaks_of(removed, fits, whole) == removed
    assert breaks_of(removed, fits, other) == []
