"""``/admin/people/import/...`` (mounted in config/urls.py before the admin site)."""

from django.contrib import admin
from django.urls import path

from identity.imports import views

urlpatterns = [
    path("", admin.site.admin_view(views.upload_view), name="people_import_upload"),
    path("export/", admin.site.admin_view(views.export_view), name="people_export"),
    path("export/jobs/<int:job_id>/", admin.site.admin_view(views.export_job_view), name="people_export_job"),
    path(
        "export/jobs/<int:job_id>/file",
        admin.site.admin_view(views.export_file_view),
        name="people_export_file",
    ),
    path("<str:token>/mapping/", admin.site.admin_view(views.mapping_view), name="people_import_mapping"),
    path("jobs/<int:job_id>/", admin.site.admin_view(views.report_view), name="people_import_report"),
    path(
        "jobs/<int:job_id>/rejected.csv",
        admin.site.admin_view(views.rejects_view),
        name="people_import_rejects",
    ),
]
