"""mParticle Events API batches as Segment-spec messages for the one pipeline.

One batch is one user: its ``user_identities`` become the identifiers of every message of the
batch (customer_id/customerid → user_id, email, mobile_number → phone, the rest as identifier
types of the same name), ``user_attributes``/``deleted_user_attributes`` become an identify, and
each event becomes a track or screen message.

A problem with the batch as a whole (``validate_batch``) rejects that batch; a problem with one event
(``data`` that is not an object, a time out of range, a value out of ``identity.limits``) becomes a
message the pipeline rejects alone. ``dedupe_key`` makes retries of a stored batch harmless.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime
from typing import Any

from identity.limits import text_problem
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


MAX_REQUEST_ID = 100


def _iso(ms: Any) -> str | None:
    """Unix milliseconds as ISO-8601; a value no date can hold stays visible (the message is rejected)."""
    if isinstance(ms, bool) or not isinstance(ms, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        return f"timestamp_unixtime_ms {ms!r} (out of range)"


def _id_value(value: Any) -> Any:
    """An identity as text; a non-finite number is kept as is so the message is rejected for it."""
    if isinstance(value, float) and not math.isfinite(value):
        return value
    return str(value)


def _object_or_bad(value: Any) -> Any:
    """``{}`` for null, the object itself, or the bad value (the normaliser rejects its message)."""
    return {} if value is None else value


def _attribute_key(key: str) -> str:
    return RESERVED_ATTRIBUTES.get(key.lower(), key.lstrip("$"))


def validate_batch(batch: Any) -> None:
    """Batch-level problems fail the request with 400 (mParticle's contract)."""
    if not isinstance(batch, dict):
        raise Rejection("BAD_REQUEST", "A batch must be a JSON object.")
    if not isinstance(batch.get("environment"), str) or batch["environment"] not in ENVIRONMENTS:
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
    request_id = batch.get("source_request_id")
    if request_id is not None and (
        isinstance(request_id, bool)
        or not isinstance(request_id, (str, int))
        or len(str(request_id)) > MAX_REQUEST_ID
        or text_problem(str(request_id))
    ):
        raise Rejection(
            "BAD_REQUEST",
            f'Field "source_request_id" must be a string of at most {MAX_REQUEST_ID} characters '
            "without NUL characters or lone surrogates.",
        )


def dedupe_key(batch: dict) -> str:
    """The batch's key in the dedupe window: its ``source_request_id``, else a hash of its content
    (a retried batch is the same JSON), so a client's retries never store a batch twice."""
    request_id = batch.get("source_request_id")
    if request_id not in (None, ""):
        return f"mparticle-request:{request_id}"
    try:
        canonical = json.dumps(batch, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    except RecursionError:
        raise Rejection("too_deep", "The batch nests objects or arrays too deeply.") from None
    return "mparticle-batch:" + hashlib.sha256(canonical.encode()).hexdigest()


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
            user_id = user_id or _id_value(value)
        elif target == "email":
            email = _id_value(value)
        else:
            external.append({"type": target, "id": _id_value(value), "collection": "users"})
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
        data = _object_or_bad(event.get("data"))
        event_type = event.get("event_type")
        if not isinstance(data, dict):
            # Kept as the properties: the pipeline rejects this message alone ("must be an object").
            messages.append({**base, "type": "track", "event": str(event_type), "properties": data})
            continue
        message: dict[str, Any] = {
            **base,
            "timestamp": _iso(data.get("timestamp_unixtime_ms")),
            "messageId": data.get("source_message_id"),
        }
        if event_type == "custom_event":
            attributes = _object_or_bad(data.get("custom_attributes"))
            if isinstance(attributes, dict):
                attributes = {**attributes, "custom_event_type": data.get("custom_event_type")}
            message.update(
                type="track", event=data.get("event_name") or "Custom Event", properties=attributes
            )
        elif event_type == "screen_view":
            message.update(
                type="screen",
                name=data.get("screen_name"),
                properties=_object_or_bad(data.get("custom_attributes")),
            )
        elif event_type == "commerce_event":
            product_action = data.get("product_action")
            action = product_action.get("action") if isinstance(product_action, dict) else None
            action = action if isinstance(action, str) else None
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
