"""JSON bodies with a bound on nesting: a definition nested thousands of levels deep is answered 400
with a reason instead of failing in Python's recursive JSON decoder."""

from __future__ import annotations

import json
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def loads(text: str | bytes) -> Any:
    """``json.loads``; a ``ValueError`` with a reason where the nesting is too deep for Python."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply") from None
