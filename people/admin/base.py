"""Shared admin building blocks."""

from __future__ import annotations

from unfold.admin import ModelAdmin


class ReadOnlyAdmin(ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
