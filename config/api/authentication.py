"""DRF token authentication against hashed keys (see ``identity.staff_tokens``)."""

from rest_framework.authentication import TokenAuthentication

from identity.staff_tokens import management_token_key


class HashedTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <token>``; only the token's hash is stored, so hash before looking up."""

    def authenticate_credentials(self, key):
        return super().authenticate_credentials(management_token_key(key))
