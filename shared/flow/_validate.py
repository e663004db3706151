"""Validate a flow document and report every problem at once, each with a JSON path.

Two passes over the raw document: the pydantic models check the shape (types, required
fields, unknown keys); then a lenient walk checks what needs the step catalogue or the whole
graph: step types, params against each step's params model, bodies, ports, dangling edges,
cycles, unreachable nodes, duplicate ids and expression syntax. The second pass tolerates a
broken shape, so one run reports both kinds.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from shared.expressions import check_syntax, is_template
from shared.flow._assets import asset_uses, find_assets
from shared.flow._model import NODE_ID_PATTERN, SCHEMA_TAG, Flow
from shared.flow._walk import GraphShape

if TYPE_CHECKING:
    from shared.steps import StepDefinition, StepRegistry

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NODE_ID = re.compile(NODE_ID_PATTERN)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a flow document."""

    path: str
    message: str
    code: str
    line: int | None = None
    column: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form for `rpa validate --json` and the API."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def json_path(parts: Iterable[str | int]) -> str:
    """`$.nodes[2].params["X-Id"]` from `("nodes", 2, "params", "X-Id")`."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENT.match(part):
            out += f".{part}"
        else:
            out += f'["{part}"]'
    return out


def validate_flow(flow: Flow, registry: StepRegistry | None = None) -> list[Problem]:
    """Validate an already built `Flow` (e.g. edited in the studio)."""
    return validate_document(flow.to_document(), registry)


def validate_document(document: Any, registry: StepRegistry | None = None) -> list[Problem]:
    """Every problem of a parsed flow document, in document order; empty when valid."""
    return check_document(document, registry).problems


ParamsModels = dict[tuple[str | int, ...], tuple[type, Any]]
"""A node's path in the document (`("nodes", 2, "body", "nodes", 0)`) -> (its step's params
model class, that class's validation of the node's params)."""


@dataclass(slots=True)
class Checked:
    """What one validation of a document found and built (`load_flow` keeps the last two)."""

    problems: list[Problem]
    flow: Flow | None
    """The document as a `Flow`, when its shape is right."""
    params: ParamsModels
    """The params models of nodes whose params hold no expression and validated."""


def check_document(document: Any, registry: StepRegistry | None = None) -> Checked:
    """Validate a parsed flow document; see `validate_document`."""
    if registry is None:
        from shared.steps import StepRegistry

        registry = StepRegistry.default()
    if not isinstance(document, dict):
        return Checked([Problem("$", f"a flow is a JSON object, not {_kind(document)}", "schema")], None, {})
    problems, flow = _shape_problems(document)
    checker = _Checker(registry)
    checker.check_document(document)
    seen = {(p.path, p.message) for p in problems}
    problems.extend(p for p in checker.problems if (p.path, p.message) not in seen)
    problems.extend(
        Problem(json_path(use.parts), f"asset: {use.problem}", "asset")
        for use in asset_uses(document, registry)
        if use.problem is not None
    )
    return Checked(problems, flow, checker.params_models)


def missing_assets(document: Any, registry: StepRegistry, folder: Path) -> list[Problem]:
    """The assets a flow names that are not files under `folder` (the flow's own folder)."""
    return [
        Problem(json_path(parts[0]), f"asset '{name}' is not a file in {folder}", "asset_missing")
        for name, parts in find_assets(document, registry).items()
        if not (folder / name).is_file()
    ]


def _trim_loc(loc: tuple[Any, ...], value: Any) -> tuple[str | int, ...]:
    """The part of a pydantic error location that exists in the input (union members such as
    'int' or 'str' are not part of the document)."""
    kept: list[str | int] = []
    for part in loc:
        in_dict = isinstance(value, dict) and part in value
        in_list = isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value)
        if not (in_dict or in_list):
            break
        value = value[part]
        kept.append(part)
    return tuple(kept)


_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")


def _shown(value: Any) -> str:
    """A bad value as a problem quotes it: a URL's user and password are left out, since a
    password typed into a URL is exactly what the problem is about."""
    return _USERINFO.sub(r"\g<scheme>***@", repr(value))


def _value_at(value: Any, loc: tuple[str | int, ...]) -> Any:
    for part in loc:
        value = value[part]
    return value


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _shape_problems(document: dict[str, Any]) -> tuple[list[Problem], Flow | None]:
    if document.get("schema") != SCHEMA_TAG:
        found = document.get("schema")
        what = "is missing" if found is None else f"is {found!r}"
        return [Problem("$.schema", f'the schema tag {what}; expected "{SCHEMA_TAG}"', "schema")], None
    try:
        flow = Flow.model_validate(document)
    except ValidationError as err:
        problems = []
        for error in err.errors():
            loc = [p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
            if loc and loc[-1] == "[key]":
                loc = loc[:-1]
                message = f"'{loc[-1]}' is not a valid name (letters, digits and _ only, not starting with a digit)"
            elif error["type"] == "extra_forbidden":
                message = f"unknown field '{loc[-1]}'"
            elif error["type"] == "missing":
                message = f"required field '{loc[-1]}' is missing"
            else:
                message = error["msg"].removeprefix("Value error, ")
            problems.append(Problem(json_path(loc), message, "schema"))
        return problems, None
    return [], flow


class _Checker:
    def __init__(self, registry: StepRegistry) -> None:
        self.registry = registry
        self.shape = GraphShape(registry)
        self.problems: list[Problem] = []
        self.ids: dict[str, str] = {}
        self.params_models: ParamsModels = {}

    def add(self, parts: Iterable[str | int], message: str, code: str) -> None:
        self.problems.append(Problem(json_path(parts), message, code))

    def check_document(self, doc: dict[str, Any]) -> None:
        for key in ("variables", "outputs"):
            self.check_expressions((key,), doc.get(key))
        inputs = doc.get("inputs")
        if isinstance(inputs, dict):
            for name, spec in inputs.items():
                if isinstance(spec, dict):
                    self.check_expressions(("inputs", name, "default"), spec.get("default"))
        self.check_graph((), doc)

    def check_expressions(self, parts: tuple[str | int, ...], value: Any) -> None:
        if value is None:
            return
        for sub, message in check_syntax(value):
            self.add((*parts, *sub), f"expression error: {message}", "expression")

    def check_graph(self, parts: tuple[str | int, ...], graph: dict[str, Any]) -> None:
        nodes = graph.get("nodes")
        edges = graph.get("edges")
        if not isinstance(nodes, list):
            return
        by_id: dict[str, tuple[int, dict[str, Any]]] = {}
        for index, node in enumerate(nodes):
            if not isinstance(node, dict):
                continue
            node_id = node.get("id")
            if isinstance(node_id, str):
                where = json_path((*parts, "nodes", index))
                if node_id in self.ids:
                    self.add(
                        (*parts, "nodes", index, "id"),
                        f"duplicate node id '{node_id}' (first used at {self.ids[node_id]})",
                        "duplicate_id",
                    )
                else:
                    self.ids[node_id] = where
                # Edges in this graph still see the node, so a duplicate is reported once.
                by_id.setdefault(node_id, (index, node))
            self.check_node((*parts, "nodes", index), node)
        if edges is None:
            edges = []
        if isinstance(edges, list):
            self.check_edges(parts, by_id, edges)

    def check_node(self, parts: tuple[str | int, ...], node: dict[str, Any]) -> None:  # noqa: C901
        step_type = node.get("type")
        params = node.get("params", {})
        definition: StepDefinition | None = None
        if isinstance(step_type, str) and step_type:
            if step_type in self.registry:
                definition = self.registry.get(step_type)
            else:
                close = self.registry.close_matches(step_type)
                hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
                self.add((*parts, "type"), f"unknown step type '{step_type}'{hint}", "unknown_step")
        if isinstance(params, dict):
            self.check_expressions((*parts, "params"), params)
            if definition is not None:
                self.check_params(parts, definition, params)
        self.check_expressions((*parts, "set"), node.get("set"))
        # Every name some step declares, so a body under the wrong container is reported.
        for body in self.shape.body_names:
            graph = node.get(body)
            if graph is None:
                if definition is not None and body in definition.required_bodies:
                    self.add((*parts, body), f"{definition.name} needs a '{body}' graph", "missing_body")
                continue
            if definition is not None and body not in definition.bodies:
                allowed = ", ".join(repr(b) for b in definition.bodies) or "none"
                self.add(
                    (*parts, body),
                    f"{definition.name} holds no '{body}' graph (it takes: {allowed})",
                    "unexpected_body",
                )
            if isinstance(graph, dict):
                self.check_graph((*parts, body), graph)
        if definition is not None and definition.kind in ("container", "subflow") and node.get("retry"):
            self.add((*parts, "retry"), "retry applies to steps, not to containers or sub-flows", "retry")

    def check_params(self, parts: tuple[str | int, ...], definition: StepDefinition, params: dict[str, Any]) -> None:
        # Templated values are typed only at run time: leave them out of the static check, but
        # remember they are present so a required field given as an expression is not "missing".
        templated = {key for key, value in params.items() if is_template(value)}
        fields = set(definition.params.model_fields)
        if definition.params.model_config.get("extra") == "forbid":
            for name in params:
                if name not in fields:
                    close = difflib.get_close_matches(name, fields, n=3, cutoff=0.5) or sorted(fields)
                    hint = f"; its params are: {', '.join(close)}" if fields else "; it takes no params"
                    self.add(
                        (*parts, "params", name), f"{definition.name} has no param '{name}'{hint}", "unknown_param"
                    )
        static = {key: value for key, value in params.items() if key not in templated and key in fields}
        try:
            model = definition.params.model_validate(static)
        except ValidationError as err:
            self.report_params(parts, definition, static, templated, err)
            return
        if len(static) == len(params):  # no expression, no key left out: the run's own model
            self.params_models[parts] = (definition.params, model)

    def report_params(
        self,
        parts: tuple[str | int, ...],
        definition: StepDefinition,
        static: dict[str, Any],
        templated: set[str],
        err: ValidationError,
    ) -> None:
        reported: dict[tuple[str | int, ...], list[str]] = {}
        for error in err.errors():
            if error["type"] == "missing":
                missing = tuple(error["loc"])
                if missing and missing[0] not in templated:
                    self.add(
                        (*parts, "params", *missing),
                        f"{definition.name} needs param '{missing[-1]}'",
                        "missing_param",
                    )
                continue
            loc = _trim_loc(error["loc"], static)
            if not loc or loc[0] in templated or error["type"] == "extra_forbidden":
                continue
            reported.setdefault(loc, []).append(error["msg"].removeprefix("Value error, "))
        for loc, messages in reported.items():
            value = _value_at(static, loc)
            message = " or ".join(dict.fromkeys(messages))
            self.add((*parts, "params", *loc), f"{message} (got {_shown(value)})", "invalid_param")

    def check_edges(  # noqa: C901
        self,
        parts: tuple[str | int, ...],
        by_id: dict[str, tuple[int, dict[str, Any]]],
        edges: list[Any],
    ) -> None:
        successors: dict[str, list[str]] = {n: [] for n in by_id}
        incoming: dict[str, list[tuple[str, str]]] = {n: [] for n in by_id}
        error_ports: set[str] = set()
        for index, edge in enumerate(edges):
            if not isinstance(edge, dict):
                continue
            where = (*parts, "edges", index)
            source, target, port = edge.get("from"), edge.get("to"), edge.get("port", "out")
            ok = True
            for key, value in (("from", source), ("to", target)):
                if isinstance(value, str) and value not in by_id:
                    self.add((*where, key), f"dangling edge: no node '{value}' in this graph", "dangling_edge")
                    ok = False
            if not ok or not isinstance(source, str) or not isinstance(target, str):
                continue
            if source == target:
                self.add(where, f"edge from '{source}' to itself", "cycle")
                continue
            source_node = by_id[source][1]
            step_type = source_node.get("type")
            if isinstance(port, str) and isinstance(step_type, str) and step_type in self.registry:
                params = source_node.get("params") if isinstance(source_node.get("params"), dict) else {}
                ports = self.registry.get(step_type).ports_for(params or {})
                if ports is not None and port not in ports:
                    self.add(
                        (*where, "port"),
                        f"node '{source}' ({step_type}) has no port '{port}'; its ports are: {', '.join(ports)}",
                        "unknown_port",
                    )
            if port == "error":
                error_ports.add(source)
            successors[source].append(target)
            incoming[target].append((source, str(port)))
        for node_id, (index, node) in by_id.items():
            if node.get("on_error") == "fallback" and node_id not in error_ports:
                self.add(
                    (*parts, "nodes", index, "on_error"),
                    f"node '{node_id}' has on_error 'fallback' but no edge leaves its 'error' port",
                    "fallback_without_route",
                )
        cyclic = self.check_cycles(parts, by_id, successors)
        self.check_reachable(parts, by_id, incoming, cyclic)

    def check_cycles(
        self,
        parts: tuple[str | int, ...],
        by_id: dict[str, tuple[int, dict[str, Any]]],
        successors: dict[str, list[str]],
    ) -> set[str]:
        indegree = dict.fromkeys(by_id, 0)
        for targets in successors.values():
            for target in targets:
                indegree[target] += 1
        queue = [n for n, d in indegree.items() if d == 0]
        while queue:
            node_id = queue.pop()
            for target in successors[node_id]:
                indegree[target] -= 1
                if indegree[target] == 0:
                    queue.append(target)
        cyclic = {n for n, d in indegree.items() if d > 0}
        if cyclic:
            cycle = self.one_cycle(cyclic, successors)
            self.add(
                (*parts, "edges"),
                f"the edges form a cycle: {' -> '.join(cycle)} (use control.while or control.foreach to repeat)",
                "cycle",
            )
        return cyclic

    @staticmethod
    def one_cycle(cyclic: set[str], successors: dict[str, list[str]]) -> list[str]:
        start = min(cyclic)
        path = [start]
        seen = {start}
        current = start
        while True:
            current = next(t for t in successors[current] if t in cyclic)
            if current in seen:
                return [*path[path.index(current) :], current]
            path.append(current)
            seen.add(current)

    def check_reachable(
        self,
        parts: tuple[str | int, ...],
        by_id: dict[str, tuple[int, dict[str, Any]]],
        incoming: dict[str, list[tuple[str, str]]],
        cyclic: set[str],
    ) -> None:
        # A node can run if some incoming edge can fire: its source can run, and the port is
        # one that can fire (the 'error' port fires only under on_error 'fallback').
        reachable: dict[str, bool] = {}

        def can_run(node_id: str, trail: frozenset[str]) -> bool:
            if node_id in reachable:
                return reachable[node_id]
            if node_id in cyclic or node_id in trail:
                return False
            edges = incoming[node_id]
            if not edges:
                result = True
            else:
                result = any(
                    (port != "error" or by_id[src][1].get("on_error") == "fallback") and can_run(src, trail | {node_id})
                    for src, port in edges
                )
            reachable[node_id] = result
            return result

        for node_id, (index, _node) in by_id.items():
            if node_id in cyclic:
                continue
            if not can_run(node_id, frozenset()):
                self.add(
                    (*parts, "nodes", index),
                    f"node '{node_id}' is unreachable: no path from a start node can reach it",
                    "unreachable",
                )
