"""Flows the studio's view tests build: a chain with a container, and big generated ones."""

from __future__ import annotations

from typing import Any

from studio.model import FlowDocument

_CHAIN = ("browser.goto", "browser.fill", "browser.click", "excel.read", "data.filter", "http.request")
_PARAMS: dict[str, dict[str, Any]] = {
    "browser.goto": {"url": "https://erp.example/invoices"},
    "browser.fill": {"target": "#amount", "value": "{{ item.amount }}"},
    "browser.click": {"target": "text=Save"},
    "excel.read": {"path": "invoices.xlsx"},
    "data.filter": {"table": "{{ steps.read.output }}", "where": "{{ row.amount > 0 }}"},
    "http.request": {"url": "https://api.example/report"},
}


def sample_document(nodes: int = 30) -> FlowDocument:
    """A flow of `nodes` nodes: a chain, a foreach holding a few steps, an if with both branches,
    a try with a catch, a sticky note; laid out by the model's auto-layout."""
    document = FlowDocument.new("Invoices")
    run = document.execute
    run("add_node", type="browser.open", id="open", params={"url": "https://erp.example"})
    previous = "open"
    run("add_node", type="control.foreach", id="each", params={"items": "{{ inputs.rows }}"}, y=120)
    run("connect", source=previous, target="each")
    inner = None
    for number in range(4):
        step = _CHAIN[number % 3 + 1]
        node = run("add_node", type=step, graph="each.body", params=_PARAMS[step], x=number * 220)
        if inner is not None:
            run("connect", source=inner, target=node)
        inner = node
    run("add_node", type="control.if", id="check", params={"condition": "{{ vars.total > 100 }}"}, y=400)
    run("connect", source="each", target="check")
    run("add_node", type="core.log", id="big", params={"message": "big"}, x=-120, y=540)
    run("add_node", type="core.log", id="small", params={"message": "small"}, x=120, y=540)
    run("connect", source="check", target="big", port="true")
    run("connect", source="check", target="small", port="false")
    run("add_node", type="control.try", id="guard", y=680)
    run("connect", source="big", target="guard")
    run("add_node", type="http.request", id="post", graph="guard.body", params=_PARAMS["http.request"])
    run("add_node", type="core.log", id="report", graph="guard.catch", params={"message": "failed"})
    previous = "guard"
    count = len(document.index)
    while count < nodes:
        step = _CHAIN[count % len(_CHAIN)]
        slot = count - 13
        x, y = 1100 + (slot // 6) * 240, (slot % 6) * 130
        node = run("add_node", type=step, params=_PARAMS[step], x=x, y=y)
        run("connect", source=previous, target=node)
        previous = node
        count += 1
    run("add_note", text="Invoices are read from the ERP, then filed.", x=-260, y=0)
    return document


def big_document(nodes: int) -> FlowDocument:
    """A chain of `nodes` plain nodes in a grid."""
    raw: dict[str, Any] = {"schema": "rpa.flow/1", "name": f"{nodes} nodes", "nodes": [], "edges": []}
    for number in range(nodes):
        ui = {"x": (number % 40) * 240, "y": (number // 40) * 120}
        raw["nodes"].append({"id": f"n{number}", "type": "core.log", "params": {"message": "x"}, "ui": ui})
        if number:
            raw["edges"].append({"from": f"n{number - 1}", "to": f"n{number}"})
    return FlowDocument(raw)
