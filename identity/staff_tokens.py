"""Management API (``/api/``) tokens of staff users: DRF's ``authtoken.Token`` storing a hash.

DRF keeps the token itself as the row's primary key. Here the key column holds the first 40 hex
characters of the token's SHA-256 (``people.credentials``), the raw token is shown once when it is
created, and ``HashedTokenAuthentication`` (config/api) hashes what a client presents before the
lookup. Clients keep sending ``Authorization: Token <token>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from rest_framework.authtoken.models import Token

from people.credentials import hash_credential, new_credential

KEY_LENGTH = 40  # DRF's column: 160 bits of SHA-256


def management_token_key(raw: str) -> str:
    return hash_credential(raw)[:KEY_LENGTH]


@dataclass(frozen=True)
class IssuedManagementToken:
    token: Token
    raw: str


@transaction.atomic
def management_token_create(*, user) -> IssuedManagementToken:
    """A new token for a staff user, replacing any they had (DRF allows one per user)."""
    if not user.is_active or not user.is_staff:
        raise ValidationError(f"{user.get_username()!r} is not an active staff user.")
    Token.objects.filter(user=user).delete()
    raw = new_credential("mat_", 32)
    token = Token.objects.create(user=user, key=management_token_key(raw))
    return IssuedManagementToken(token, raw)
