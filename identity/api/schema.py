"""OpenAPI security schemes for the tracking, mParticle and Profile API authentication classes."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BasicAuthScheme(OpenApiAuthenticationExtension):
    """An HTTP Basic security scheme: subclasses name the authentication class (``target_class``),
    the scheme (``name``) and what the client sends (``description``). Without a target class it
    matches nothing, so this base adds no scheme of its own."""

    description = ""

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "basic", "description": self.description}


class WriteKeyScheme(BasicAuthScheme):
    target_class = "identity.api.auth.WriteKeyAuthentication"
    name = "writeKey"
    description = (
        "The source's write key as the Basic username (password empty), or `writeKey` in the JSON body."
    )


class KeySecretScheme(BasicAuthScheme):
    target_class = "identity.api.auth.KeySecretAuthentication"
    name = "keySecret"
    description = "mParticle style: the source's public key and its write key as `key:secret`."


class AccessTokenScheme(BasicAuthScheme):
    target_class = "identity.api.auth.AccessTokenAuthentication"
    name = "profileToken"
    description = "A Profile API access token as the Basic username, or `Authorization: Bearer`."
