"""Login, password reset, invitations and language preference."""

import re

import pytest
from django.core import mail
from django.test import Client

from tenants.context import tenant_scope
from tenants.models import Invitation, Membership, User
from tests.factories import PASSWORD, UserFactory


@pytest.mark.django_db
class TestLogin:
    def test_login_with_email_and_password(self, tenant, users):
        client = Client()
        response = client.post("/accounts/login/", {"login": users["sales"].email, "password": PASSWORD})
        assert response.status_code == 302
        assert client.get("/")["Location"] == f"/t/{tenant.slug}/"

    def test_wrong_password_gets_a_japanese_error_and_no_session(self, users):
        client = Client(HTTP_ACCEPT_LANGUAGE="ja")
        response = client.post("/accounts/login/", {"login": users["sales"].email, "password": "wrong-password"})
        assert response.status_code == 200
        assert "メールアドレスもしくはパスワードが正しくありません" in response.content.decode()
        assert "_auth_user_id" not in client.session

    def test_wrong_password_error_in_english_for_english_browsers(self, users):
        client = Client(HTTP_ACCEPT_LANGUAGE="en")
        response = client.post("/accounts/login/", {"login": users["sales"].email, "password": "wrong-password"})
        assert "email address and/or password you specified are not correct" in response.content.decode()

    def test_repeated_failures_lock_the_account_out(self, users):
        client = Client()
        for _ in range(5):
            client.post("/accounts/login/", {"login": users["sales"].email, "password": "nope-nope-nope"})
        response = client.post("/accounts/login/", {"login": users["sales"].email, "password": PASSWORD})
        # Even the right password is refused now: by the login rate limit or by axes' lockout.
        assert "_auth_user_id" not in client.session
        assert response.status_code in (403, 429) or "ログイン失敗が連続しています" in response.content.decode()
        from axes.models import AccessAttempt

        attempt = AccessAttempt.objects.get(username=users["sales"].email)
        assert attempt.failures_since_start >= 5

    def test_logout(self, tenant, users, client_for):
        client = client_for(users["viewer"])
        client.post("/accounts/logout/")
        assert client.get(f"/t/{tenant.slug}/").status_code == 302
        assert "_auth_user_id" not in client.session

    def test_open_signup_is_closed(self, db):
        response = Client().post(
            "/accounts/signup/", {"email": "stranger@example.jp", "password1": "x" * 12, "password2": "x" * 12}
        )
        assert not User.objects.filter(email="stranger@example.jp").exists()
        assert response.status_code in (200, 403)


@pytest.mark.django_db
def test_password_reset_sends_a_link_that_sets_a_new_password(users):
    client = Client()
    client.post("/accounts/password/reset/", {"email": users["marketing"].email})
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^\s]+/accounts/password/reset/key/[^\s]+", mail.outbox[0].body).group(0)
    path = link.split("testserver", 1)[1]
    form_page = client.get(path, follow=True)
    set_url = form_page.redirect_chain[-1][0] if form_page.redirect_chain else path
    response = client.post(set_url, {"password1": "a-brand-new-pass-77", "password2": "a-brand-new-pass-77"})
    assert response.status_code == 302
    users["marketing"].refresh_from_db()
    assert users["marketing"].check_password("a-brand-new-pass-77")


@pytest.mark.django_db
class TestInvitations:
    @pytest.fixture(autouse=True)
    def _run_on_commit(self, django_capture_on_commit_callbacks):
        self.capture = django_capture_on_commit_callbacks

    def _invite(self, tenant, users, client_for, email="newbie@acme.example", role="sales"):
        with self.capture(execute=True):
            response = client_for(users["admin"]).post(f"/t/{tenant.slug}/members/", {"email": email, "role": role})
        assert response.status_code == 200
        link = re.search(r"http://testserver(/invite/[^\s]+/)", mail.outbox[-1].body).group(1)
        return link

    def test_invited_person_sets_a_password_and_joins_with_the_role(self, tenant, users, client_for):
        link = self._invite(tenant, users, client_for)
        client = Client()
        assert client.get(link).status_code == 200
        response = client.post(
            link, {"name": "新人 一郎", "password1": "sakura-momiji-42", "password2": "sakura-momiji-42"}
        )
        assert response.status_code == 302
        user = User.objects.get(email="newbie@acme.example")
        assert Membership.objects.get(user=user, tenant=tenant).role == "sales"
        assert client.get(f"/t/{tenant.slug}/kpis/dashboard/").status_code == 200

    def test_invitation_link_works_once(self, tenant, users, client_for):
        link = self._invite(tenant, users, client_for)
        Client().post(link, {"name": "A", "password1": "sakura-momiji-42", "password2": "sakura-momiji-42"})
        assert Client().get(link).status_code == 404

    def test_mismatched_passwords_create_nothing(self, tenant, users, client_for):
        link = self._invite(tenant, users, client_for)
        response = Client().post(link, {"name": "A", "password1": "sakura-momiji-42", "password2": "other-pass-9999"})
        assert response.status_code == 400
        assert not User.objects.filter(email="newbie@acme.example").exists()

    def test_existing_user_of_another_tenant_accepts_after_login(self, tenant, other_tenant, users, client_for):
        outsider = UserFactory(email="multi@acme.example")
        Membership.objects.create(user=outsider, tenant=other_tenant, role="admin")
        link = self._invite(tenant, users, client_for, email="multi@acme.example", role="viewer")
        assert "/accounts/login/" in Client().get(link)["Location"]
        client = client_for(outsider)
        assert client.get(link)["Location"] == f"/t/{tenant.slug}/"
        assert Membership.objects.get(user=outsider, tenant=tenant).role == "viewer"

    def test_only_the_token_hash_is_stored(self, tenant, users, client_for):
        link = self._invite(tenant, users, client_for)
        token = link.rstrip("/").rsplit("/", 1)[1]
        with tenant_scope(tenant.id):
            stored = Invitation.objects.get()
        assert stored.token_hash != token and stored.token_hash == Invitation.hash_token(token)

    def test_invalid_email_is_rejected_with_a_message(self, tenant, users, client_for):
        response = client_for(users["admin"]).post(f"/t/{tenant.slug}/members/", {"email": "not-an-email", "role": "x"})
        assert response.status_code == 400
        with tenant_scope(tenant.id):
            assert not Invitation.objects.exists()
        assert "有効なメールアドレスを入力してください" in response.content.decode()

    def test_cannot_invite_an_existing_member(self, tenant, users, client_for):
        response = client_for(users["admin"]).post(
            f"/t/{tenant.slug}/members/", {"email": users["sales"].email, "role": "sales"}
        )
        assert response.status_code == 400
        assert len(mail.outbox) == 0


@pytest.mark.django_db
class TestLanguage:
    def test_japanese_is_the_default(self, tenant, users, client_for):
        page = client_for(users["viewer"]).get(f"/t/{tenant.slug}/kpis/dashboard/")
        assert '<html lang="ja"' in page.content.decode()

    def test_switching_to_english_is_saved_on_the_user(self, tenant, users, client_for):
        client = client_for(users["viewer"])
        client.post("/language/", {"language": "en", "next": f"/t/{tenant.slug}/kpis/dashboard/"})
        users["viewer"].refresh_from_db()
        assert users["viewer"].language == "en"
        page = client.get(f"/t/{tenant.slug}/kpis/dashboard/", HTTP_ACCEPT_LANGUAGE="ja")
        assert '<html lang="en"' in page.content.decode()
        client.post("/language/", {"language": "ja", "next": "/"})
        assert '<html lang="ja"' in client.get(f"/t/{tenant.slug}/kpis/dashboard/").content.decode()

    def test_unknown_language_changes_nothing(self, users, client_for):
        client = client_for(users["viewer"])
        client.post("/language/", {"language": "fr", "next": "/"})
        users["viewer"].refresh_from_db()
        assert users["viewer"].language == "ja"

    def test_open_redirects_are_refused(self, users, client_for):
        response = client_for(users["viewer"]).post("/language/", {"language": "en", "next": "https://evil.example/"})
        assert response["Location"] == "/"
