"""Reading the rows of one raw SQL statement, where the ORM cannot say it (the statement keeps its
values as ``%s`` parameters; table names come from ``Model._meta.db_table``)."""

from collections.abc import Sequence
from typing import Any

from django.db import connection


def select_rows(statement: str, params: Sequence[Any] = ()) -> list[tuple]:
    """The rows of ``statement`` with ``params`` bound."""
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall()
