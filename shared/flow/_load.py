"""Read a flow document from JSON (or YAML) text or a file, with the line and column of a
syntax error."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from shared.errors import FlowInvalidError, FlowLoadError
from shared.flow._model import Flow, Graph
from shared.flow._params import keep_params

if TYPE_CHECKING:
    from shared.flow._validate import ParamsModels
    from shared.steps import StepRegistry


class _Yaml12Loader(yaml.SafeLoader):
    """YAML with YAML 1.2 booleans: only true/false are booleans, so a key `on:` (retry.on)
    or a value `yes` stays text."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def parse_document(text: str, *, yaml_allowed: bool = True) -> Any:
    """Parse JSON, or YAML when YAML is allowed and the text is not JSON.

    Raises:
        FlowLoadError: with the line and column of the first syntax error.
    """
    stripped = text.lstrip()
    if not stripped:
        raise FlowLoadError("the document is empty", line=1, column=1)
    if stripped[0] in "{[" or not yaml_allowed:
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            json_error = FlowLoadError(f"invalid JSON: {err.msg}", line=err.lineno, column=err.colno)
            if not yaml_allowed:
                raise json_error from None
        # YAML's flow style also starts with "{": try it before reporting the JSON error.
        try:
            return yaml.load(text, Loader=_Yaml12Loader)
        except yaml.YAMLError:
            raise json_error from None
    try:
        return yaml.load(text, Loader=_Yaml12Loader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        raise FlowLoadError(f"invalid YAML: {err.problem or err}", line=line, column=column) from None
    except yaml.YAMLError as err:
        raise FlowLoadError(f"invalid YAML: {err}") from None


def read_document(path: str | Path) -> Any:
    """Parse the flow file at `path`.

    Raises:
        FlowLoadError: when the file cannot be read or parsed.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FlowLoadError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise FlowLoadError(f"cannot read {path}: {err}") from None
    return parse_document(text, yaml_allowed=path.suffix.lower() != ".json")


def load_flow(source: str | Path | dict[str, Any], *, registry: StepRegistry | None = None) -> Flow:
    """Load and validate a flow from a file path or an already parsed document.

    Raises:
        FlowLoadError: unreadable or unparsable file.
        FlowInvalidError: every problem the validator found.
    """
    from shared.flow._validate import check_document

    document = source if isinstance(source, dict) else read_document(source)
    checked = check_document(document, registry)
    if checked.problems:
        raise FlowInvalidError(checked.problems)
    flow = checked.flow if checked.flow is not None else Flow.model_validate(document)
    _keep_checked_params(flow, checked.params)
    return flow


def _keep_checked_params(flow: Flow, models: ParamsModels) -> None:
    """Hand the params models the check built to the engine (`_params.py`), node by node."""
    if not models:
        return
    stack: list[tuple[Graph, tuple[str | int, ...]]] = [(flow, ())]
    while stack:  # no recursion: nesting depth is the document's to choose
        graph, parts = stack.pop()
        for index, node in enumerate(graph.nodes):
            here = (*parts, "nodes", index)
            found = models.get(here)
            if found is not None:
                keep_params(node, *found)
            stack.extend((body, (*here, name)) for name, body in node.graphs().items())
