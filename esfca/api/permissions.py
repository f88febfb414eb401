"""Who may call what (api-contract.md, Roles). Tenant scoping itself lives in
``exporters.selectors``: an object outside the caller's tenant answers 404 before any of
these is asked."""

from rest_framework.permissions import BasePermission

from exporters.selectors import user_is_reviewer

DENIED = "Your role does not allow this action."


class IsPlatformAdmin(BasePermission):
    """Onboarding: banks, firms, accounts, users."""

    message = DENIED

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.is_superuser)


class CanPostRates(BasePermission):
    """A platform admin or a bank reviewer."""

    message = DENIED

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return user.is_superuser or user_is_reviewer(user)
