"""mParticle Events API batches as Segment-spec messages for the one pipeline.

One batch is one user: its ``user_identities`` become the identifiers of every message of the
batch (customer_id/customerid → user_id, email, mobile_number → phone, the rest as identifier
types of the same name), ``user_attributes``/``deleted_user_attributes`` become an identify, and
each event becomes a track or screen message.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from identity.normalize import Rejection

ENVIRONMENTS = {"development", "production"}
IDENTITY_TYPES = {
    "customer_id": "user_id",
    "customerid": "user_id",
    "email": "email",
    "mobile_number": "phone",
    "phone_number_2": "phone",
    "phone_number_3": "phone",
}
DEVICE_IDS = {
    "ios_advertising_id": ("ios", "advertisingId"),
    "ios_idfv": ("ios", "id"),
    "android_advertising_id": ("android", "advertisingId"),
    "android_uuid": ("android", "id"),
}
RESERVED_ATTRIBUTES = {
    "$firstname": "first_name",
    "$lastname": "last_name",
    "$gender": "gender",
    "$city": "city",
    "$state": "region",
    "$country": "country",
    "$mobile": "phone",
    "$zip": "zip",
    "$address": "address_line",
    "$age": "age",
}
COMMERCE_NAMES = {
    "add_to_cart": "Product Added",
    "remove_from_cart": "Product Removed",
    "checkout": "Checkout Started",
    "checkout_option": "Checkout Step Completed",
    "click": "Product Clicked",
    "view_detail": "Product Viewed",
    "purchase": "Order Completed",
    "refund": "Order Refunded",
    "add_to_wishlist": "Product Added to Wishlist",
    "remove_from_wishlist": "Product Removed from Wishlist",
}


def _iso(ms: Any) -> str | None:
    if isinstance(ms, bool) or not isinstance(ms, (int, float)):
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


def _attribute_key(key: str) -> str:
    return RESERVED_ATTRIBUTES.get(key.lower(), key.lstrip("$"))


def validate_batch(batch: Any) -> None:
    """Batch-level problems fail the request with 400 (mParticle's contract)."""
    if not isinstance(batch, dict):
        raise Rejection("BAD_REQUEST", "A batch must be a JSON object.")
    if batch.get("environment") not in ENVIRONMENTS:
        raise Rejection(
            "BAD_REQUEST", 'Required field "environment" is missing or not development/production.'
        )
    for name in ("events", "deleted_user_attributes"):
        if name in batch and batch[name] is not None and not isinstance(batch[name], list):
            raise Rejection("BAD_REQUEST", f'Field "{name}" must be an array.')
    for name in ("user_identities", "user_attributes", "device_info"):
        if name in batch and batch[name] is not None and not isinstance(batch[name], dict):
            raise Rejection("BAD_REQUEST", f'Field "{name}" must be an object.')
    for index, event in enumerate(batch.get("events") or []):
        if not isinstance(event, dict) or not event.get("event_type"):
            raise Rejection(
                "BAD_REQUEST", f'Required event field "event_type" is missing or empty (event {index}).'
            )


def batch_to_messages(batch: dict) -> list[dict]:
    identities = batch.get("user_identities") or {}
    user_id = None
    external = []
    email = None
    for key, value in identities.items():
        if value is None or value == "":
            continue
        target = IDENTITY_TYPES.get(key, key)
        if target == "user_id":
            user_id = user_id or str(value)
        elif target == "email":
            email = str(value)
        else:
            external.append({"type": target, "id": str(value), "collection": "users"})
    device = {}
    info = batch.get("device_info") or {}
    for key, (platform, field) in DEVICE_IDS.items():
        if info.get(key):
            device = {**device, "type": platform, field: str(info[key])}
    if info.get("push_token") and (
        device.get("type") or str(info.get("platform", "")).lower() in ("ios", "android")
    ):
        device = {
            "type": device.get("type") or str(info["platform"]).lower(),
            **device,
            "token": str(info["push_token"]),
        }
    context: dict[str, Any] = {
        "library": {"name": "mparticle-events-api"},
        "environment": batch.get("environment"),
    }
    if external:
        context["externalIds"] = external
    if device:
        context["device"] = {**{k: v for k, v in info.items() if isinstance(v, (str, int, float))}, **device}
    if email:
        context["traits"] = {"email": email}
    if batch.get("ip"):
        context["ip"] = batch["ip"]
    base = {"userId": user_id, "context": context}

    messages: list[dict] = []
    attributes = batch.get("user_attributes") or {}
    deleted = batch.get("deleted_user_attributes") or []
    if attributes or deleted or email:
        traits = {_attribute_key(str(k)): v for k, v in attributes.items()}
        if email:
            traits.setdefault("email", email)
        messages.append(
            {
                **base,
                "type": "identify",
                "traits": traits,
                "unsetTraits": [_attribute_key(str(k)) for k in deleted],
            }
        )
    for event in batch.get("events") or []:
        data = event.get("data") or {}
        event_type = event.get("event_type")
        message: dict[str, Any] = {
            **base,
            "timestamp": _iso(data.get("timestamp_unixtime_ms")),
            "messageId": data.get("source_message_id"),
        }
        if event_type == "custom_event":
            message.update(
                type="track",
                event=data.get("event_name") or "Custom Event",
                properties={
                    **(data.get("custom_attributes") or {}),
                    "custom_event_type": data.get("custom_event_type"),
                },
            )
        elif event_type == "screen_view":
            message.update(
                type="screen", name=data.get("screen_name"), properties=data.get("custom_attributes") or {}
            )
        elif event_type == "commerce_event":
            action = (data.get("product_action") or {}).get("action")
            properties = {
                k: v for k, v in data.items() if k not in ("timestamp_unixtime_ms", "source_message_id")
            }
            message.update(
                type="track", event=COMMERCE_NAMES.get(action, "Commerce Event"), properties=properties
            )
        else:
            properties = {
                k: v for k, v in data.items() if k not in ("timestamp_unixtime_ms", "source_message_id")
            }
            message.update(type="track", event=str(event_type), properties=properties)
        messages.append(message)
    return messages
