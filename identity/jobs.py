"""The identity app's job kinds: CSV/XLSX import and export of people (``identity.imports``)."""

from __future__ import annotations

from identity.imports.exportjob import run_export
from identity.imports.services import EXPORT_JOB_KIND, JOB_KIND, run_import
from people.jobs import register

register(JOB_KIND, label="People import")(run_import)
register(EXPORT_JOB_KIND, label="People export")(run_export)
