"""Django's auth and django-q2's task queue, restyled under Unfold (API tokens: identity/admin.py)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group, User
from django_q import models as q_models
from django_q.admin import FailAdmin, QueueAdmin, ScheduleAdmin, TaskAdmin
from unfold.admin import ModelAdmin
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class UserAdmin(BaseUserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm


@admin.register(Group)
class GroupAdmin(BaseGroupAdmin, ModelAdmin):
    pass


for q_model, q_admin in [
    (q_models.Schedule, ScheduleAdmin),
    (q_models.Success, TaskAdmin),
    (q_models.Failure, FailAdmin),
    (q_models.OrmQ, QueueAdmin),
]:
    admin.site.unregister(q_model)
    admin.site.register(q_model, type(q_admin.__name__, (q_admin, ModelAdmin), {}))
