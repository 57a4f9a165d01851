from rest_framework.routers import DefaultRouter

from people.api import views

router = DefaultRouter(trailing_slash=True)
router.register("people", views.PersonViewSet, basename="person")
router.register("attribute-definitions", views.AttributeDefinitionViewSet)
router.register("channels", views.ChannelViewSet)
router.register("event-definitions", views.EventDefinitionViewSet)
router.register("context-definitions", views.ContextDefinitionViewSet)
router.register("events", views.EventViewSet)
router.register("jobs", views.JobViewSet)

urlpatterns = router.urls
