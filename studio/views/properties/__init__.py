"""The properties panel: the selected node's settings and a form generated from its step's
params JSON Schema, with an expression editor for any field."""

from studio.views.properties._expression import ExpressionEdit, ExpressionHighlighter, highlighted_tokens
from studio.views.properties._fields import FieldRow, FormContext
from studio.views.properties._panel import PropertiesPanel, make_dock
from studio.views.properties._schema import FieldSpec, field_spec, params_fields
from studio.views.properties._scope import completions, filter_names

__all__ = [
    "ExpressionEdit",
    "ExpressionHighlighter",
    "FieldRow",
    "FieldSpec",
    "FormContext",
    "PropertiesPanel",
    "completions",
    "field_spec",
    "filter_names",
    "highlighted_tokens",
    "make_dock",
    "params_fields",
]
