"""Templates in flow parameters: ``{{ … }}`` evaluated in a sandboxed Jinja2 environment.

A parameter is a JSON value; any string in it may hold templates. A string that is exactly one
expression yields the expression's native value, any other template renders to text::

    render({"url": "https://x/{{ inputs.id }}", "rows": "{{ steps.read.output }}"}, scope)

Names in scope are plain mappings supplied by the engine: ``inputs``, ``vars``, ``steps``
(``steps.<id>.output``), ``item`` / ``index``, ``error``, ``execution``, ``env`` and
``secrets`` (a `SecretsNamespace`). A name that does not exist is an error, and every failure
is an `ExpressionError`.

Filters added to Jinja's own: ``jmespath``, ``jsonpath``, ``jsonpath_first``, ``regex_match``,
``regex_search``, ``regex_findall``, ``regex_replace``, ``regex_split``, ``to_int``,
``to_float``, ``to_bool``, ``to_str``, ``to_json``, ``from_json``, ``to_date``; global
function ``now()``.
"""

from ._analysis import check_syntax, find_secret_refs, find_secret_uses, is_template
from ._errors import ErrorKind, ExpressionError, UnknownSecretError
from ._render import Renderer, compile_value, evaluate, render
from ._secrets import SecretMasker, SecretsNamespace, flatten_credentials

__all__ = [
    "ErrorKind",
    "ExpressionError",
    "Renderer",
    "SecretMasker",
    "SecretsNamespace",
    "UnknownSecretError",
    "check_syntax",
    "compile_value",
    "evaluate",
    "find_secret_refs",
    "find_secret_uses",
    "flatten_credentials",
    "is_template",
    "render",
]
