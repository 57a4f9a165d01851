"""``/api/imports/``: the people import's management API (``identity.api.imports``)."""

from rest_framework.routers import DefaultRouter

from identity.api import imports

router = DefaultRouter(trailing_slash=True)
router.register("imports", imports.ImportViewSet, basename="import")

urlpatterns = router.urls
