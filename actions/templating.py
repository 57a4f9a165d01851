"""A small, safe text template language for action properties (no eval, no attribute access).

    Hi {{first_name|there}}!                        an attribute, with a fallback when empty
    Next due: {{payments.0.due_date|soon}}          an item of a list attribute and its field
    {{#each payments 3}}{{amount}} on {{due_date}}; {{/each}}   the first N items of a list

Inside ``#each`` a placeholder reads the item's field first (``{{@number}}`` is 1, 2, ...) and then
the person's attributes. Paths are attribute keys, then object keys or list positions. Templates are
parsed once (``parse`` raises ``TemplateError`` with the column) and rendered with a ``lookup(key)``
function giving an attribute's value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

MAX_EACH = 100
MAX_LENGTH = 10_000
_TAG = re.compile(r"\{\{(.*?)\}\}", re.S)
_PATH = r"[A-Za-z_@][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*"
_PLACEHOLDER = re.compile(rf"^\s*({_PATH})\s*(?:\|(.*))?$", re.S)
_EACH = re.compile(rf"^\s*#each\s+({_PATH})(?:\s+(\d+))?\s*$")
_END = re.compile(r"^\s*/each\s*$")


class TemplateError(ValueError):
    def __init__(self, message: str, column: int):
        super().__init__(f"column {column}: {message}")
        self.column = column


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Placeholder:
    path: tuple[str, ...]
    fallback: str | None


@dataclass(frozen=True)
class Each:
    path: tuple[str, ...]
    limit: int
    body: tuple


def parse(template: str) -> tuple:
    if len(template) > MAX_LENGTH:
        raise TemplateError(f"the template is longer than {MAX_LENGTH} characters", 1)
    stack: list[tuple[Each | None, list, int]] = [(None, [], 0)]
    position = 0
    for match in _TAG.finditer(template):
        _text(template[position : match.start()], stack[-1][1], position)
        inner = match.group(1)
        column = match.start() + 1
        if each := _EACH.match(inner):
            limit = int(each.group(2)) if each.group(2) else MAX_EACH
            if not 1 <= limit <= MAX_EACH:
                raise TemplateError(f"#each takes at most {MAX_EACH} items", column)
            stack.append((Each(tuple(each.group(1).split(".")), limit, ()), [], column))
        elif _END.match(inner):
            if len(stack) == 1:
                raise TemplateError("{{/each}} without {{#each ...}}", column)
            each_node, body, _ = stack.pop()
            stack[-1][1].append(Each(each_node.path, each_node.limit, tuple(body)))
        elif placeholder := _PLACEHOLDER.match(inner):
            stack[-1][1].append(Placeholder(tuple(placeholder.group(1).split(".")), placeholder.group(2)))
        else:
            raise TemplateError(
                f"expected an attribute key like {{{{first_name|fallback}}}}; got {{{{{inner}}}}}", column
            )
        position = match.end()
    _text(template[position:], stack[-1][1], position)
    if len(stack) > 1:
        raise TemplateError("{{#each ...}} is not closed with {{/each}}", stack[-1][2])
    return tuple(stack[0][1])


def _text(text: str, into: list, offset: int) -> None:
    if "{{" in text:
        raise TemplateError("'{{' is not closed with '}}'", offset + text.index("{{") + 1)
    if text:
        into.append(Text(text))


def references(nodes: tuple) -> set[str]:
    """The attribute keys a template reads (the first segment of paths outside item scopes)."""
    keys: set[str] = set()
    for node in nodes:
        if isinstance(node, Placeholder) and not node.path[0].startswith("@"):
            keys.add(node.path[0])
        elif isinstance(node, Each):
            keys.add(node.path[0])
            keys |= {key for key in references(node.body)}
    return keys


def dig(value: Any, path: tuple[str, ...]) -> Any:
    for segment in path:
        if isinstance(value, dict):
            value = value.get(segment)
        elif isinstance(value, list) and segment.isdigit():
            index = int(segment)
            value = value[index] if index < len(value) else None
        else:
            return None
    return value


def show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | dict):
        return ""
    return str(value)


def render(nodes: tuple, lookup: Callable[[str], Any], item: Any = None, number: int = 0) -> str:
    out: list[str] = []
    for node in nodes:
        if isinstance(node, Text):
            out.append(node.text)
        elif isinstance(node, Placeholder):
            out.append(_placeholder(node, lookup, item, number))
        else:
            items = dig(lookup(node.path[0]), node.path[1:])
            if isinstance(items, list):
                for index, element in enumerate(items[: node.limit]):
                    out.append(render(node.body, lookup, element, index + 1))
    return "".join(out)


def _placeholder(node: Placeholder, lookup: Callable[[str], Any], item: Any, number: int) -> str:
    if node.path == ("@number",):
        text = str(number) if number else ""
    elif isinstance(item, dict) and node.path[0] in item:
        text = show(dig(item, node.path))
    else:
        text = show(dig(lookup(node.path[0]), node.path[1:]))
    if text == "" and node.fallback is not None:
        return node.fallback
    return text
