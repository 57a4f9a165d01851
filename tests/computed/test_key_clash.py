"""Keys are unique across custom and computed attributes, whichever is defined first."""

import pytest
from django.core.exceptions import ValidationError

from people.models import AttributeType
from people.services import attribute_definition_create


def test_custom_attribute_cannot_take_a_computed_attribute_key(make_computed):
    # given a computed attribute "total_orders"
    make_computed("total_orders", "aggregate", {"function": "count", "event": "Order Completed"})
    # when / then
    with pytest.raises(ValidationError) as error:
        attribute_definition_create(key="total_orders", label="Total orders", type=AttributeType.INTEGER)
    assert error.value.message_dict == {"key": ["'total_orders' is already a computed attribute."]}
