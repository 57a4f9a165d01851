"""Formula AST: frozen dataclasses; ``pos`` is the 1-based column where the node starts."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Number:
    value: float
    pos: int


@dataclass(frozen=True)
class String:
    value: str
    pos: int


@dataclass(frozen=True)
class Boolean:
    value: bool
    pos: int


@dataclass(frozen=True)
class Ref:
    """An attribute (standard, custom or computed) by key."""

    key: str
    pos: int


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]
    pos: int


@dataclass(frozen=True)
class Unary:
    op: str  # "-" | "not"
    operand: Node
    pos: int


@dataclass(frozen=True)
class Binary:
    op: str  # + - * / % = != < <= > >= and or
    left: Node
    right: Node
    pos: int


Node = Number | String | Boolean | Ref | Call | Unary | Binary
