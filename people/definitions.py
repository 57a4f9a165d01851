"""The services that write a definition (computed attribute, audience, action) and the keywords they
take, for the interfaces that call them alike: the management API's view sets
(``people.api.definitions``) and the admin (``people.admin.lifecycle``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import models


@dataclass(frozen=True)
class DefinitionWrites:
    """The services that create, update, delete, duplicate and (for a lifecycle) disable and activate
    (a job) one kind of definition, and the keywords they take their arguments by: the definition
    (``attribute=``, ``audience=``, ``action=``) and the requesting user."""

    definition: str
    create: Callable[..., Any]
    update: Callable[..., Any]
    delete: Callable[..., None]
    duplicate: Callable[..., Any]
    disable: Callable[..., Any] | None = None
    activate: Callable[..., Any] | None = None  # (<definition>=, user=) -> the Job
    user: str = "created_by"

    def of(self, definition: models.Model) -> dict[str, models.Model]:
        return {self.definition: definition}

    def by(self, user) -> dict[str, Any]:
        return {self.user: user}
