"""The identity app's job kinds: CSV/XLSX import of people (``identity.imports``)."""

from __future__ import annotations

from identity.imports.services import JOB_KIND, run_import
from people.jobs import register

register(JOB_KIND, label="People import")(run_import)
