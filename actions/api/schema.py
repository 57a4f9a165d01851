"""OpenAPI security scheme of the client actions API (the tracking write key)."""

from identity.api.schema import BasicAuthScheme


class ActionsWriteKeyScheme(BasicAuthScheme):
    target_class = "actions.api.client.ActionsWriteKeyAuthentication"
    name = "actionsWriteKey"
    description = (
        "The source's write key as the Basic username (password empty), "
        "or `writeKey` in the JSON body (POST) or the query (GET)."
    )
