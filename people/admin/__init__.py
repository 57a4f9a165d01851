"""The admin of the people app: the main UI of marketing-ops staff, one module per section.

ModelAdmins are configuration plus thin hooks that call services; long work becomes a Job.
Importing this package registers every section's ModelAdmins.
"""

from django.contrib import admin

from people.admin import auth, definitions, events, jobs, organization, person_filters, persons

admin.site.index_title = "Dashboard"

__all__ = ["auth", "definitions", "events", "jobs", "organization", "person_filters", "persons"]
