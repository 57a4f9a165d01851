"""OpenAPI security scheme of the client actions API (the tracking write key)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ActionsWriteKeyScheme(OpenApiAuthenticationExtension):
    target_class = "actions.api.client.ActionsWriteKeyAuthentication"
    name = "actionsWriteKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "basic",
            "description": "The source's write key as the Basic username (password empty), "
            "or `writeKey` in the JSON body (POST) or the query (GET).",
        }
