"""Tenant scoping, in one place: which firms and banks a user may see or act on.

Every door asks here and only turns the answer into its own error style (web pages, API
endpoints, summaries): a firm outside the user's tenant is not found, so its existence is
not revealed (404); an action the user's role may not take on a firm it sees is refused
(403). The rules:

- a platform admin (superuser) sees every firm and moves no firm's money;
- a finance officer sees its firm and moves its money; a firm viewer only sees it;
- a bank reviewer sees and reviews the firms holding an account at its bank;
- the review desk (queue, portfolio) is the reviewers' and the platform admin's, who
  oversees every bank and firm there;
- within a firm, a bank reviewer sees only the slice at its banks (rules.md §11): the
  firm's accounts there and the movements on them (``firm_slice_for``); everyone else who
  sees the firm sees all of it.
"""

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from .models import Bank, Firm, Membership, User


def _memberships(user: User, *roles: str) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user, role__in=roles)


def _reviewed_bank_ids(user: User) -> QuerySet[Membership]:
    return _memberships(user, Membership.Role.BANK_REVIEWER).values("bank_id")


def _banking_at(bank_ids: QuerySet) -> Q:
    """The firms holding an account at one of ``bank_ids`` (a reviewer's tenant)."""
    return Q(accounts__bank_id__in=bank_ids)


def firms_visible_to(user: User) -> QuerySet[Firm]:
    """Superusers: every firm. Firm roles: their firm. Reviewers: firms banking with them."""
    if not user.is_authenticated:
        return Firm.objects.none()
    if user.is_superuser:
        return Firm.objects.all()
    member_of = Q(pk__in=_memberships(user, *Membership.FIRM_ROLES).values("firm_id"))
    return Firm.objects.filter(member_of | _banking_at(_reviewed_bank_ids(user))).distinct()


def firms_operated_by(user: User) -> QuerySet[Firm]:
    """Firms whose money this user may move: finance officers of the firm only."""
    if not user.is_authenticated:
        return Firm.objects.none()
    officer_of = _memberships(user, Membership.Role.FINANCE_OFFICER).values("firm_id")
    return Firm.objects.filter(pk__in=officer_of)


def firms_reviewed_by(user: User) -> QuerySet[Firm]:
    """Firms whose summaries this user decides on: those banking with its reviewed banks."""
    if not user.is_authenticated:
        return Firm.objects.none()
    return Firm.objects.filter(_banking_at(_reviewed_bank_ids(user))).distinct()


def firms_overseen_by(user: User) -> QuerySet[Firm]:
    """Firms on the user's review desk: every firm for a superuser, else the reviewed ones."""
    if user.is_authenticated and user.is_superuser:
        return Firm.objects.all()
    return firms_reviewed_by(user)


def banks_reviewed_by(user: User) -> QuerySet[Bank]:
    if not user.is_authenticated:
        return Bank.objects.none()
    return Bank.objects.filter(pk__in=_reviewed_bank_ids(user))


def banks_overseen_by(user: User) -> QuerySet[Bank]:
    """Banks whose review desk the user may open: every bank for a superuser, else its own."""
    if user.is_authenticated and user.is_superuser:
        return Bank.objects.all()
    return banks_reviewed_by(user)


def firm_visible_to(user: User, firm_id: int) -> Firm:
    """The firm ``firm_id`` if ``user`` may see it.

    Raises ``Firm.DoesNotExist`` otherwise, for another tenant's firm as for one that does
    not exist: every door answers both as not found.
    """
    return firms_visible_to(user).get(pk=firm_id)


def user_can_operate(user: User, firm: Firm) -> bool:
    """Whether ``user`` may move ``firm``'s money (record, allocate, convert, file)."""
    return firms_operated_by(user).filter(pk=firm.pk).exists()


def user_reviews_firm(user: User, firm: Firm) -> bool:
    """Whether ``user`` decides on ``firm``'s summaries (a reviewer of one of its banks)."""
    return firms_reviewed_by(user).filter(pk=firm.pk).exists()


def user_is_reviewer(user: User) -> bool:
    return banks_reviewed_by(user).exists()


def user_oversees_reviews(user: User) -> bool:
    """Whether the user may open the review desk at all: a superuser or a bank reviewer."""
    return user.is_superuser or user_is_reviewer(user)


def user_primary_role(user: User) -> str | None:
    """The role that decides the landing page: admin, officer, viewer, reviewer, or None."""
    if user.is_superuser:
        return "platform_admin"
    membership = Membership.objects.filter(user=user).order_by("id").first()
    return membership.role if membership else None


# --- the part of a firm a user sees (rules.md §11) --------------------------------------------


@dataclass(frozen=True)
class BankSlice:
    """Which of a firm's accounts a user sees: every bank's (``bank_ids`` None) or only
    those at ``bank_ids``. Doors and reads take one and filter by it, never decide it."""

    bank_ids: frozenset[int] | None = None

    @property
    def whole(self) -> bool:
        return self.bank_ids is None

    def holds(self, bank_id: int | None) -> bool:
        """Whether an account at ``bank_id`` is in the slice."""
        return self.bank_ids is None or bank_id in self.bank_ids

    def accounts(self, *paths: str) -> Q:
        """A filter keeping rows with an account of the slice at any of ``paths`` (each a
        lookup to an account's bank id, ``"bank_id"`` for accounts themselves)."""
        if self.bank_ids is None:
            return Q()
        found = Q(pk__in=[])
        for path in paths or ("bank_id",):
            found |= Q(**{f"{path}__in": sorted(self.bank_ids)})
        return found


WHOLE_FIRM = BankSlice()


def bank_slice(bank: Bank) -> BankSlice:
    """The slice of one bank (a bank's review, its portfolio)."""
    return BankSlice(frozenset({bank.pk}))


def firm_slice_for(user: User, firm: Firm) -> BankSlice:
    """The part of ``firm`` that ``user`` sees: all of it for a superuser and the firm's own
    people; for a bank reviewer only its accounts at the reviewed banks (rules.md §11)."""
    if user.is_superuser:
        return WHOLE_FIRM
    if _memberships(user, *Membership.FIRM_ROLES).filter(firm=firm).exists():
        return WHOLE_FIRM
    return BankSlice(frozenset(_reviewed_bank_ids(user).values_list("bank_id", flat=True)))
