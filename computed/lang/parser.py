"""Formula text → AST with lark (LALR). Syntax errors name the column and what was expected."""

from __future__ import annotations

import math
import re
from functools import cache
from pathlib import Path

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from computed.lang.ast import Binary, Boolean, Call, Node, Number, Ref, String, Unary
from computed.lang.runtime import unstorable_text

MAX_LENGTH = 4000
MAX_DEPTH = 100  # levels of the parse tree: parentheses, calls, operators (a + b + c is 3)
ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)")
SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}

TERMINAL_NAMES = {
    "RPAR": "')'",
    "LPAR": "'('",
    "COMMA": "','",
    "NAME": "an attribute or function name",
    "NUMBER": "a number",
    "STRING": "a string",
    "PLUS": "'+'",
    "MINUS": "'-'",
    "STAR": "'*'",
    "SLASH": "'/'",
    "PERCENT": "'%'",
    "COMPARE": "a comparison",
    "AND": "'and'",
    "OR": "'or'",
    "NOT": "'not'",
    "TRUE": "true",
    "FALSE": "false",
    "$END": "the end of the formula",
}


class FormulaError(ValueError):
    """A problem at a position (1-based column) of the formula text."""

    def __init__(self, message: str, column: int = 0):
        self.message = message
        self.column = column
        super().__init__(f"column {column}: {message}" if column else message)

    def as_dict(self) -> dict:
        return {"column": self.column, "message": self.message}


@cache
def _parser() -> Lark:
    grammar = (Path(__file__).parent / "grammar.lark").read_text()
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=False)


def _pos(token) -> int:
    return getattr(token, "column", 0) or 0


@v_args(inline=True)
class _ToAst(Transformer):
    def number(self, token: Token) -> Number:
        value = float(token)
        if not math.isfinite(value):
            raise FormulaError("the number is too large", _pos(token))
        return Number(value, _pos(token))

    def string(self, token: Token) -> String:
        body = str(token)[1:-1]
        text = ESCAPE.sub(lambda m: _unescape(m.group(1), _pos(token)), body) if "\\" in body else body
        bad = unstorable_text(text)
        if bad is not None:
            raise FormulaError(f"text cannot contain {bad}", _pos(token))
        return String(text, _pos(token))

    def true(self, token: Token) -> Boolean:
        return Boolean(True, _pos(token))

    def false(self, token: Token) -> Boolean:
        return Boolean(False, _pos(token))

    def name(self, token: Token) -> Ref:
        return Ref(str(token), _pos(token))

    def call(self, name: Token, _lpar, *rest) -> Call:
        args: tuple = ()
        if rest and not isinstance(rest[0], Token):
            args = rest[0]
        return Call(str(name).lower(), args, _pos(name))

    def arguments(self, *items) -> tuple:
        return tuple(item for item in items if not isinstance(item, Token))

    def group(self, _lpar, inner, _rpar):
        return inner

    def negate(self, op: Token, operand: Node) -> Unary:
        return Unary("-", operand, _pos(op))

    def positive(self, op: Token, operand: Node) -> Node:
        return operand

    def not_(self, op: Token, operand: Node) -> Unary:
        return Unary("not", operand, _pos(op))

    def binary(self, left: Node, op: Token, right: Node) -> Binary:
        return Binary(str(op), left, right, _pos(op))

    def compare(self, left: Node, op: Token, right: Node) -> Binary:
        normalized = {"==": "=", "<>": "!="}.get(str(op), str(op))
        return Binary(normalized, left, right, _pos(op))

    def and_(self, left: Node, op: Token, right: Node) -> Binary:
        return Binary("and", left, right, _pos(op))

    def or_(self, left: Node, op: Token, right: Node) -> Binary:
        return Binary("or", left, right, _pos(op))


def _unescape(code: str, column: int) -> str:
    if code[0] in "ux" and len(code) > 1:
        return chr(int(code[1:], 16))
    if code in SIMPLE_ESCAPES:
        return SIMPLE_ESCAPES[code]
    raise FormulaError(f"unknown escape '\\{code}' in text (known: \\n \\t \\' \\\" \\\\ \\uXXXX)", column)


def _deepest(tree: Tree) -> tuple[int, int]:
    """The depth of the parse tree and the column where it is deepest (without recursion)."""
    deepest, column = 0, 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > deepest:
            deepest, column = depth, getattr(node.meta, "column", 0) if not node.meta.empty else column
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))
    return deepest, column


def _expected(exc: UnexpectedInput) -> str:
    names = getattr(exc, "accepts", None) or getattr(exc, "expected", None) or set()
    if "RPAR" in names:
        return "expected ')'"
    shown = sorted({TERMINAL_NAMES.get(n, n) for n in names if not n.startswith("__")})
    return "expected " + (", ".join(shown[:6]) if shown else "something else")


def parse(text: str) -> Node:
    """Parse a formula; raises ``FormulaError`` with the column of the problem."""
    if not isinstance(text, str) or not text.strip():
        raise FormulaError("the formula is empty")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"the formula is too long (at most {MAX_LENGTH} characters)")
    if "\n" in text:
        text = text.replace("\r", " ").replace("\n", " ")
    for i, ch in enumerate(text):
        if ch == "\x00" or "\ud800" <= ch <= "\udfff":
            what = "a NUL character" if ch == "\x00" else "a lone surrogate (an invalid character)"
            raise FormulaError(f"the formula cannot contain {what}", i + 1)
    try:
        tree = _parser().parse(text)
    except UnexpectedEOF as exc:
        raise FormulaError(f"unexpected end of the formula; {_expected(exc)}", len(text) + 1) from None
    except UnexpectedToken as exc:
        if exc.token.type == "$END":
            raise FormulaError(f"unexpected end of the formula; {_expected(exc)}", len(text) + 1) from None
        raise FormulaError(f"unexpected {str(exc.token)!r}; {_expected(exc)}", exc.column) from None
    except UnexpectedCharacters as exc:
        raise FormulaError(f"unexpected character {text[exc.pos_in_stream]!r}", exc.column) from None
    depth, column = _deepest(tree)
    if depth > MAX_DEPTH:
        raise FormulaError(f"the formula is nested too deeply (at most {MAX_DEPTH} levels)", column)
    try:
        return _ToAst().transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, FormulaError):
            raise exc.orig_exc from None
        raise
