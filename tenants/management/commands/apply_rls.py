"""Re-apply PostgreSQL row-level security to every tenant-owned table (idempotent).

Runs automatically after every `migrate` (post_migrate); run it by hand after restoring a dump
or when the app role was created after the last migration. Run as the table owner.
"""

from django.core.management.base import BaseCommand, CommandError

from tenants import rls


class Command(BaseCommand):
    help = "Enable + force row-level security and the tenant policies on every tenant-owned table."

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default")
        parser.add_argument("--check", action="store_true", help="Only report; exit 1 if a table is unprotected.")

    def handle(self, *args, **options):
        using = options["database"]
        if not options["check"]:
            changed = rls.apply(using=using, verbosity=options["verbosity"], stdout=self.stdout)
            if not changed:
                self.stdout.write("Row-level security already in place.")
        states = rls.table_states(using)
        unprotected = [state.table for state in states if state.exists and not state.protected]
        role = rls.app_role()
        no_grant = [state.table for state in states if state.exists and role and not state.app_role_can_write]
        for state in states:
            if options["verbosity"] >= 2:
                self.stdout.write(
                    f"{state.table}: rls={state.rls} forced={state.forced} "
                    f"policies={sorted(state.policies)} app_role_dml={state.app_role_can_write}"
                )
        if unprotected:
            raise CommandError(f"Tables without row-level security: {', '.join(unprotected)}")
        if no_grant:
            raise CommandError(f"The app role {role} lacks DML grants (or does not exist) on: {', '.join(no_grant)}")
        self.stdout.write(self.style.SUCCESS(f"{len(states)} tenant-owned tables protected; app role: {role or '-'}"))
