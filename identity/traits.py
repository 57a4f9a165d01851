"""Kept for the ingestion pipeline's import: the batch trait writer is
``people.services.people_write_traits``, beside the other attribute writes."""

from people.services import TraitWrite, people_write_traits

__all__ = ["TraitWrite", "people_write_traits"]
