"""Who may call what (api-contract.md, Roles). Tenant scoping itself lives in
``exporters.selectors``: an object outside the caller's tenant answers 404 before any of
these is asked."""

from rest_framework.permissions import BasePermission

DENIED = "Your role does not allow this action."


class IsPlatformAdmin(BasePermission):
    """Onboarding (banks, firms, accounts, users) and reference rates (rules.md §10: a bank
    reviewer posts no rates)."""

    message = DENIED

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.is_superuser)
