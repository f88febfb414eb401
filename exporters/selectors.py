"""Tenant scoping, in one place: which firms and banks a user may see or act on."""

from django.db.models import Q, QuerySet

from .models import Bank, Firm, Membership, User


def firms_visible_to(user: User) -> QuerySet[Firm]:
    """Superusers: every firm. Firm roles: their firm. Reviewers: firms banking with them."""
    if not user.is_authenticated:
        return Firm.objects.none()
    if user.is_superuser:
        return Firm.objects.all()
    memberships = Membership.objects.filter(user=user)
    firm_ids = memberships.filter(role__in=Membership.FIRM_ROLES).values("firm_id")
    bank_ids = memberships.filter(role=Membership.Role.BANK_REVIEWER).values("bank_id")
    return Firm.objects.filter(Q(pk__in=firm_ids) | Q(accounts__bank_id__in=bank_ids)).distinct()


def firms_operated_by(user: User) -> QuerySet[Firm]:
    """Firms whose money this user may move: finance officers of the firm only."""
    if not user.is_authenticated:
        return Firm.objects.none()
    return Firm.objects.filter(
        memberships__user=user, memberships__role=Membership.Role.FINANCE_OFFICER
    ).distinct()


def banks_reviewed_by(user: User) -> QuerySet[Bank]:
    if not user.is_authenticated:
        return Bank.objects.none()
    return Bank.objects.filter(
        memberships__user=user, memberships__role=Membership.Role.BANK_REVIEWER
    ).distinct()


def user_can_operate(user: User, firm: Firm) -> bool:
    return firms_operated_by(user).filter(pk=firm.pk).exists()


def user_is_reviewer(user: User) -> bool:
    return banks_reviewed_by(user).exists()


def user_primary_role(user: User) -> str | None:
    """The role that decides the landing page: admin, officer, viewer, reviewer, or None."""
    if user.is_superuser:
        return "platform_admin"
    membership = Membership.objects.filter(user=user).order_by("id").first()
    return membership.role if membership else None
