"""E-mail addresses on /accounts/email/ (#19 Medium 5): an address someone else owns can never be
added, logged in with, made primary or get a password reset link for the wrong account."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client

from tenants.models import Membership, User
from tests.factories import PASSWORD, TenantFactory, member

pytestmark = pytest.mark.django_db

VICTIM = "admin@rival.example"
ATTACKER_PASSWORD = "attackers-own-pass-31"


@pytest.fixture
def victim(db):
    """Tenant B's admin."""
    return member(TenantFactory(slug="rival-b"), "admin", email=VICTIM)


@pytest.fixture
def attacker(tenant):
    """A viewer of tenant A, with a password of their own."""
    user = member(tenant, "viewer", email="viewer@acme.example")
    user.set_password(ATTACKER_PASSWORD)
    user.save()
    return user


def logged_in(user, language="ja") -> Client:
    """The attacker logged in and re-entered their password (e-mail changes need a fresh authentication)."""
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    response = client.post("/accounts/login/", {"login": user.email, "password": ATTACKER_PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]
    response = client.post("/accounts/reauthenticate/", {"password": ATTACKER_PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]
    return client


def add_address(client: Client, email: str):
    return client.post("/accounts/email/", {"email": email, "action_add": ""})


def can_log_in(email: str, password: str = PASSWORD) -> User | None:
    client = Client()
    client.post("/accounts/login/", {"login": email, "password": password})
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


def confirmation_path(message) -> str:
    return re.search(r"http://testserver(/accounts/confirm-email/[^\s]+/)", message.body).group(1)


class TestAddingAnAddress:
    def test_another_users_address_is_refused_with_a_message(self, attacker, victim):
        response = add_address(logged_in(attacker), VICTIM)
        assert response.status_code == 200
        assert "ほかのユーザーがこのメールアドレスでアカウント登録済みです" in response.content.decode()
        assert not EmailAddress.objects.filter(user=attacker, email=VICTIM).exists()
        assert len(mail.outbox) == 0

    def test_another_users_address_in_other_case_is_refused_too(self, attacker, victim):
        add_address(logged_in(attacker), VICTIM.upper())
        assert not EmailAddress.objects.filter(user=attacker, email__iexact=VICTIM).exists()

    def test_english_message_for_english_users(self, attacker, victim):
        attacker.language = "en"
        attacker.save()
        response = add_address(logged_in(attacker, "en"), VICTIM)
        assert "A user is already registered with this email address." in response.content.decode()

    def test_a_new_address_becomes_the_login_only_once_verified(self, attacker):
        client = logged_in(attacker)
        add_address(client, "new-me@acme.example")
        assert can_log_in("new-me@acme.example", ATTACKER_PASSWORD) is None
        attacker.refresh_from_db()
        assert attacker.email == "viewer@acme.example"
        path = confirmation_path(mail.outbox[-1])
        assert mail.outbox[-1].to == ["new-me@acme.example"]
        client.post(path)
        attacker.refresh_from_db()
        assert attacker.email == "new-me@acme.example"
        assert can_log_in("new-me@acme.example", ATTACKER_PASSWORD) == attacker

    def test_adding_needs_a_recent_authentication(self, attacker):
        client = Client()
        client.force_login(attacker, backend="django.contrib.auth.backends.ModelBackend")
        response = add_address(client, "new-me@acme.example")
        assert response.status_code == 302
        assert "/accounts/reauthenticate/" in response["Location"]
        assert not EmailAddress.objects.filter(email="new-me@acme.example").exists()


class TestAnUnverifiedClaimOnSomeoneElsesAddress:
    """A row left from before the protection (or added before B's admin had an account)."""

    @pytest.fixture
    def claim(self, attacker, victim):
        return EmailAddress.objects.create(user=attacker, email=VICTIM, verified=False, primary=False)

    def test_gives_no_login_with_the_attackers_password(self, claim, attacker):
        assert can_log_in(VICTIM, ATTACKER_PASSWORD) is None

    def test_the_owner_still_logs_in(self, claim, victim):
        assert can_log_in(VICTIM) == victim

    def test_cannot_be_made_primary_and_answers_no_500(self, claim, attacker):
        response = logged_in(attacker).post("/accounts/email/", {"email": VICTIM, "action_primary": ""}, follow=True)
        assert response.status_code == 200
        attacker.refresh_from_db()
        assert attacker.email == "viewer@acme.example"
        claim.refresh_from_db()
        assert not claim.primary

    def test_the_owner_confirming_it_does_not_hand_it_over(self, claim, attacker, victim):
        client = logged_in(attacker)
        client.post("/accounts/email/", {"email": VICTIM, "action_send": ""})
        assert mail.outbox and mail.outbox[-1].to == [VICTIM]
        path = confirmation_path(mail.outbox[-1])
        response = Client().post(path)
        assert response.status_code < 500
        claim.refresh_from_db()
        assert not claim.verified
        attacker.refresh_from_db()
        assert attacker.email == "viewer@acme.example"

    def test_password_reset_mails_the_owners_account_only(self, claim, attacker, victim):
        claim.verified = True  # even a claim verified before the fix
        claim.save()
        mail.outbox.clear()
        Client().post("/accounts/password/reset/", {"email": VICTIM})
        assert len(mail.outbox) == 1
        link = re.search(r"http://testserver(/accounts/password/reset/key/[^\s]+)", mail.outbox[0].body).group(1)
        client = Client()
        page = client.get(link, follow=True)
        set_url = page.redirect_chain[-1][0] if page.redirect_chain else link
        client.post(set_url, {"password1": "a-brand-new-pass-77", "password2": "a-brand-new-pass-77"})
        victim.refresh_from_db()
        attacker.refresh_from_db()
        assert victim.check_password("a-brand-new-pass-77")
        assert attacker.check_password(ATTACKER_PASSWORD)

    def test_a_verified_claim_gives_no_login_either(self, claim, attacker, victim):
        claim.verified = True
        claim.save()
        assert can_log_in(VICTIM, ATTACKER_PASSWORD) is None
        assert can_log_in(VICTIM) == victim


def test_a_verified_second_address_logs_in(attacker):
    EmailAddress.objects.create(user=attacker, email="alias@acme.example", verified=True, primary=False)
    assert can_log_in("alias@acme.example", ATTACKER_PASSWORD) == attacker


def test_membership_is_untouched_by_address_changes(tenant, attacker, victim):
    add_address(logged_in(attacker), VICTIM)
    assert not Membership.objects.filter(user=attacker, tenant__slug="rival-b").exists()
