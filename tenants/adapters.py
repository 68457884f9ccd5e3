from allauth.account import app_settings as allauth_settings
from allauth.account.adapter import DefaultAccountAdapter, get_adapter
from allauth.account.auth_backends import AuthenticationBackend
from allauth.account.forms import AddEmailForm, ResetPasswordForm
from django.contrib import messages

from . import accounts
from .clientip import client_ip


class InviteOnlyAccountAdapter(DefaultAccountAdapter):
    """People join through a tenant admin's invitation, never by open sign-up."""

    def get_client_ip(self, request):
        """allauth's login and reset rate limits count per client, behind the trusted proxies too."""
        ip = client_ip(request)
        if not ip:
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied("Unable to determine client IP address")
        return ip

    def is_open_for_signup(self, request) -> bool:
        return False

    def confirm_email(self, request, email_address) -> bool:
        # The owner of an address clicking a link that a claimant had sent there must not hand the
        # address (and its password resets) over to the claimant's account.
        if accounts.owned_by_someone_else(email_address.email, email_address.user):
            self.add_message(
                request,
                messages.ERROR,
                "account/messages/email_confirmation_failed.txt",
                {"email": email_address.email},
            )
            return False
        return super().confirm_email(request, email_address)


class OwnAddressAddEmailForm(AddEmailForm):
    """ACCOUNT_FORMS["add_email"]: an address another account owns is refused outright. (allauth
    accepts it silently when enumeration prevention is on; here members are known to each other.)"""

    def clean_email(self) -> str:
        value = super().clean_email()
        if allauth_settings.UNIQUE_EMAIL and accounts.owned_by_someone_else(value, self.user):
            raise get_adapter().validation_error("email_taken")
        return value


class OwnerOnlyResetPasswordForm(ResetPasswordForm):
    """ACCOUNT_FORMS["reset_password"]: a reset link only ever for the account that owns the address."""

    def clean_email(self) -> str:
        value = super().clean_email()
        self.users = accounts.users_for_login(value)
        return value


class VerifiedEmailAuthenticationBackend(AuthenticationBackend):
    """allauth's backend, but an e-mail login only matches accounts that own the address (never an
    unverified address someone added to their own account)."""

    def _authenticate_by_email(self, email: str, password: str):
        if not email:
            return None
        for user in accounts.users_for_login(email):
            if self._check_password(user, password):
                return user
        return None
