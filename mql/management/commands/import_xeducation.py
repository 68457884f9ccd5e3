"""Import the X Education lead-scoring data set into a tenant through the product's own ingestion.

    manage.py import_xeducation --csv ../shared/data/x-education/Leads.csv --tenant acme
    manage.py import_xeducation --csv ../shared/data/x-education/Leads.csv --create "X Education" xedu

The leaky columns (Tags, Lead Quality, Last Notable Activity, Lead Profile) are never read.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from mql import xeducation
from tenants.context import tenant_scope
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Import ../shared/data/x-education/Leads.csv (leads, activities, won/lost outcomes) into a tenant."

    def add_arguments(self, parser):
        parser.add_argument("--csv", required=True)
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--tenant", help="slug of an existing tenant")
        target.add_argument("--create", nargs=2, metavar=("NAME", "SLUG"), help="create a new tenant")
        parser.add_argument("--won-amount", type=int, default=0, help="amount recorded on each won deal (yen)")

    def handle(self, *args, **options):
        try:
            rows = xeducation.read_rows(options["csv"])
        except (OSError, ValueError) as error:
            raise CommandError(str(error))
        if options["create"]:
            from tenants.services import tenant_create

            name, slug = options["create"]
            tenant = tenant_create(name=name, slug=slug)
        else:
            tenant = Tenant.objects.filter(slug=options["tenant"]).first()
            if tenant is None:
                raise CommandError(f"No tenant with slug {options['tenant']!r}.")
        started = time.monotonic()
        with tenant_scope(tenant.id, atomic=False):
            result = xeducation.import_rows(rows, won_amount=options["won_amount"], progress=self.stdout.write)
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {result.leads:,} leads, {result.activities:,} activities and {result.outcomes:,} outcomes "
                f"({result.converted:,} won) into /t/{tenant.slug}/ in {time.monotonic() - started:.1f} s."
            )
        )
