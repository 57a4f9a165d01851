"""``/api/imports/`` and ``/api/exports/``: the people import and export management API
(``identity.api.imports``, ``identity.api.exports``)."""

from rest_framework.routers import DefaultRouter

from identity.api import exports, imports

router = DefaultRouter(trailing_slash=True)
router.register("imports", imports.ImportViewSet, basename="import")
router.register("exports", exports.ExportViewSet, basename="export")

urlpatterns = router.urls
