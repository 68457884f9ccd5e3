from allauth.account.adapter import DefaultAccountAdapter


class InviteOnlyAccountAdapter(DefaultAccountAdapter):
    """People join through a tenant admin's invitation, never by open sign-up."""

    def is_open_for_signup(self, request) -> bool:
        return False
