"""``/admin/people/import/...`` (mounted in config/urls.py before the admin site)."""

from django.contrib import admin

from identity.imports import views
from people.admin.base import admin_pages

urlpatterns = admin_pages(
    admin.site,
    ("", views.upload_view, "people_import_upload"),
    ("export/", views.export_view, "people_export"),
    ("export/jobs/<int:job_id>/", views.export_job_view, "people_export_job"),
    ("export/jobs/<int:job_id>/file", views.export_file_view, "people_export_file"),
    ("<str:token>/mapping/", views.mapping_view, "people_import_mapping"),
    ("jobs/<int:job_id>/", views.report_view, "people_import_report"),
    ("jobs/<int:job_id>/rejected.csv", views.rejects_view, "people_import_rejects"),
)
