"""Jinja2 expressions inside layouts, evaluated in a sandbox.

In: template strings written in layout files (never data values) and a render context. Out: text.
Undefined names are errors, never blanks; output is bounded; the environment is immutable-sandboxed, so
templates cannot call mutating methods or reach private attributes. Formatters are exposed as filters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from renderer.errors import LayoutError

MAX_OUTPUT_CHARS = 2000
# What a template can raise besides TemplateError; the message never carries data (only the class name).
_RUNTIME_ERRORS = (ArithmeticError, TypeError, ValueError, LookupError, AttributeError)


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with its attribute verdicts kept per (class, attribute name).

    Jinja decides whether an attribute is safe from the object's class and the attribute's name alone (a
    leading underscore, the internals of functions, methods, types, code, frames and generators, the mutating
    methods of lists, dicts, sets and deques): the verdict for one object holds for every object of its class,
    so it is asked once — a print run reads the same few attributes of the same data classes on every page."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._verdicts: dict[tuple[type, str], bool] = {}

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        key = (type(obj), attr)
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = self._verdicts[key] = bool(super().is_safe_attribute(obj, attr, value))
        return verdict


class Templates:
    def __init__(self, filters: Mapping[str, Callable[..., Any]]) -> None:
        env = _Sandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
        env.filters.update(filters)
        self.env = env
        self._templates: dict[str, Any] = {}
        self._expressions: dict[str, Any] = {}
        self._reads: dict[str, tuple[str, ...]] = {}

    def check(self, source: str, *, path: str) -> None:
        """Compile only (layout validation): syntax errors become LayoutError naming the path."""
        self._compile(source, path=path)

    def check_expression(self, source: str, *, path: str) -> None:
        self._compile_expression(source, path=path)

    def _compile(self, source: str, *, path: str) -> Any:
        tpl = self._templates.get(source)
        if tpl is None:
            try:
                tpl = self.env.from_string(source)
            except TemplateSyntaxError as exc:
                raise LayoutError(f"{path}: template syntax error: {exc.message}", field=path) from None
            self._templates[source] = tpl
        return tpl

    def _compile_expression(self, source: str, *, path: str) -> Any:
        expr = self._expressions.get(source)
        if expr is None:
            try:
                expr = self.env.compile_expression(source, undefined_to_none=False)
            except TemplateSyntaxError as exc:
                raise LayoutError(f"{path}: expression syntax error: {exc.message}", field=path) from None
            self._expressions[source] = expr
        return expr

    def reads(self, source: str) -> tuple[str, ...]:
        """The dotted names the template reads (``item.remarks``, ``data.certify.purpose``, ``page.n``), each
        once, in order of first use: the longest chain of attributes and constant indexes from a name. For
        messages only (which input a text is made of); a template that does not parse reads nothing."""
        found = self._reads.get(source)
        if found is None:
            try:
                tree = self.env.parse(source)
            except TemplateSyntaxError:
                tree = None
            found = self._reads[source] = tuple(dict.fromkeys(_chains(tree))) if tree is not None else ()
        return found

    def render(self, source: str, context: Mapping[str, Any], *, path: str) -> str:
        if "{" not in source:
            return source
        tpl = self._compile(source, path=path)
        try:
            out = str(tpl.render(context))
        except TemplateError as exc:
            raise LayoutError(f"{path}: {exc.__class__.__name__}: {exc.message}", field=path) from None
        except _RUNTIME_ERRORS as exc:   # e.g. the sandbox's range limit, {% include %} without a loader
            raise LayoutError(f"{path}: the template failed ({exc.__class__.__name__})", field=path) from None
        if len(out) > MAX_OUTPUT_CHARS:
            raise LayoutError(f"{path}: template output is {len(out)} characters, over {MAX_OUTPUT_CHARS}",
                              field=path)
        return out

    def truth(self, source: str, context: Mapping[str, Any], *, path: str) -> bool:
        expr = self._compile_expression(source, path=path)
        try:
            return bool(expr(**context))
        except TemplateError as exc:
            raise LayoutError(f"{path}: {exc.__class__.__name__}: {exc.message}", field=path) from None
        except _RUNTIME_ERRORS as exc:
            raise LayoutError(f"{path}: the expression failed ({exc.__class__.__name__})", field=path) from None


def _chains(node: nodes.Node) -> list[str]:
    """`Templates.reads` of one node: a chain of ``.attr`` / ``[constant]`` from a loaded name is one read;
    anything else is searched below (a filter's argument, a computed index)."""
    chain = _chain(node)
    if chain is not None:
        return [chain]
    out: list[str] = []
    for child in node.iter_child_nodes():
        out += _chains(child)
    return out


def _chain(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Name):
        return node.name if node.ctx == "load" else None
    if isinstance(node, nodes.Getattr):
        base = _chain(node.node)
        return None if base is None else f"{base}.{node.attr}"
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) \
            and isinstance(node.arg.value, int | str):
        base = _chain(node.node)
        return None if base is None else f"{base}.{node.arg.value}"
    return None
