from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import Bank, Firm, Membership, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["firm", "bank"]


@admin.register(User)
class EsfcaUserAdmin(UserAdmin):
    inlines = [MembershipInline]


@admin.register(Bank)
class BankAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


@admin.register(Firm)
class FirmAdmin(admin.ModelAdmin):
    list_display = ["name", "ntn", "kind", "registration_body", "active_taxpayer"]
    list_filter = ["kind", "registration_body", "active_taxpayer"]
    search_fields = ["name", "ntn", "registration_number"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "firm", "bank"]
    list_filter = ["role"]
    autocomplete_fields = ["user", "firm", "bank"]
