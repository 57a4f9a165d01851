"""DRF's error shape, plus model ``ValidationError`` from services mapped to field paths, and
deletes blocked by references answered 409 with what blocks them."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError, RestrictedError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    if isinstance(exc, (ProtectedError, RestrictedError)):
        blocking = sorted(
            {
                str(obj)
                for obj in list(
                    exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects
                )[:10]
            }
        )
        return Response(
            {"detail": f"Cannot delete: still used by {', '.join(blocking)}.", "code": "in_use"},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            exc = exceptions.ValidationError(exc.message_dict)
        else:
            exc = exceptions.ValidationError({"non_field_errors": exc.messages})
    return drf_exception_handler(exc, context)
