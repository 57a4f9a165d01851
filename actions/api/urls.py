from rest_framework.routers import SimpleRouter

from actions.api.views import ActionViewSet, AudienceWebhookViewSet, DeliveryViewSet, ReactionViewSet

router = SimpleRouter()
router.register("actions", ActionViewSet, basename="action")
router.register("action-reactions", ReactionViewSet, basename="action-reaction")
router.register("webhook-deliveries", DeliveryViewSet, basename="webhook-delivery")
router.register("audience-webhooks", AudienceWebhookViewSet, basename="audience-webhook")

urlpatterns = router.urls
