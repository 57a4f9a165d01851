from rest_framework.routers import SimpleRouter

from computed.api.views import ComputedAttributeViewSet

router = SimpleRouter()
router.register("computed-attributes", ComputedAttributeViewSet, basename="computed-attribute")

urlpatterns = router.urls
