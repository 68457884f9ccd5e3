"""Whose e-mail address is it? The one rule behind login, password reset and /accounts/email/.

An account owns an address when it is the account's `User.email` (set from an invitation the person
received at that address, or from an address they verified) or one of its *verified* allauth
`EmailAddress` rows. An unverified row is only a wish: it never logs in, never receives a reset link
for its account, and can never be verified, made primary or added while another account owns the
address (#19 Medium 5: a viewer of tenant A had added tenant B's admin address to their account).
"""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.db import transaction

from .models import User


def address_owners(email: str) -> list[User]:
    """The account that owns `email` (active or not), as a list: empty or one. `User.email` wins over
    another account's verified row (a claim verified before these rules, by a confused owner)."""
    email = (email or "").strip()
    if not email:
        return []
    by_user_email = list(User.objects.filter(email__iexact=email)[:1])
    if by_user_email:
        return by_user_email
    address = (
        EmailAddress.objects.filter(email__iexact=email, verified=True).select_related("user").order_by("pk").first()
    )
    return [address.user] if address else []


def owned_by_someone_else(email: str, user) -> bool:
    return any(owner.pk != user.pk for owner in address_owners(email))


def users_for_login(email: str) -> list[User]:
    """Accounts a login or a password reset by `email` may act on: only the owners of the address."""
    return [user for user in address_owners(email) if user.is_active]


@transaction.atomic
def ensure_own_address(user: User) -> EmailAddress | None:
    """Make the account's `User.email` a verified, primary `EmailAddress` (it is owned, see above), so
    allauth refuses to make an unverified address primary; void other accounts' claims on it."""
    email = (user.email or "").strip().lower()
    if not email:
        return None
    EmailAddress.objects.filter(email__iexact=email).exclude(user=user).delete()
    address = EmailAddress.objects.filter(user=user, email__iexact=email).first()
    if address is None:
        EmailAddress.objects.filter(user=user, primary=True).update(primary=False)
        return EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    if not (address.verified and address.primary):
        EmailAddress.objects.filter(user=user, primary=True).exclude(pk=address.pk).update(primary=False)
        address.verified = address.primary = True
        address.save(update_fields=["verified", "primary"])
    return address
