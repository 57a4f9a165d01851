"""OpenAPI security schemes for the tracking, mParticle and Profile API authentication classes."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class WriteKeyScheme(OpenApiAuthenticationExtension):
    target_class = "identity.api.auth.WriteKeyAuthentication"
    name = "writeKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "basic",
            "description": "The source's write key as the Basic username (password empty), "
            "or `writeKey` in the JSON body.",
        }


class KeySecretScheme(OpenApiAuthenticationExtension):
    target_class = "identity.api.auth.KeySecretAuthentication"
    name = "keySecret"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "basic",
            "description": "mParticle style: the source's public key and its write key as `key:secret`.",
        }


class AccessTokenScheme(OpenApiAuthenticationExtension):
    target_class = "identity.api.auth.AccessTokenAuthentication"
    name = "profileToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "basic",
            "description": "A Profile API access token as the Basic username, or `Authorization: Bearer`.",
        }
