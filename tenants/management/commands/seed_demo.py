"""Build the demo tenant once: members for every role, then each app's demo data."""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.module_loading import import_string

from tenants.context import tenant_scope
from tenants.models import Membership, Role, Tenant, User

DEMO_SLUG = "demo"
DEMO_PASSWORD = "ondo-demo-2026"  # noqa: S105 - documented demo login, demo data only  # nosec B105
DEMO_MEMBERS = [
    ("admin@demo.ondo.example", "管理 花子", Role.ADMIN),
    ("marketing@demo.ondo.example", "佐藤 美咲", Role.MARKETING),
    ("sales@demo.ondo.example", "鈴木 健太", Role.SALES),
    ("sales2@demo.ondo.example", "高橋 誠", Role.SALES),
    ("viewer@demo.ondo.example", "田中 部長", Role.VIEWER),
]


class Command(BaseCommand):
    help = "Create the demo tenant with demo users and data (once; --reset rebuilds it)."

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true")
        parser.add_argument("--leads", type=int, default=3000)

    def handle(self, *args, **options):
        existing = Tenant.objects.filter(slug=DEMO_SLUG).first()
        if existing and not options["reset"]:
            self.stdout.write("Demo tenant already exists.")
            return
        if existing:
            existing.delete()
        with transaction.atomic():
            tenant = Tenant.objects.create(name="株式会社サンプルテック", slug=DEMO_SLUG)
            for email, name, role in DEMO_MEMBERS:
                user = User.objects.filter(email=email).first() or User.objects.create_user(
                    email, DEMO_PASSWORD, name=name
                )
                Membership.objects.create(user=user, tenant=tenant, role=role)
        for path in getattr(settings, "ONDO_DEMO_BUILDERS", []):
            try:
                builder = import_string(path)
            except ImportError:
                continue  # that app has no demo data yet
            with tenant_scope(tenant.id):
                builder(tenant=tenant, lead_count=options["leads"], stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS(f"Demo tenant ready: /t/{DEMO_SLUG}/"))
        for email, _name, role in DEMO_MEMBERS:
            self.stdout.write(f"  {role:<10} {email} / {DEMO_PASSWORD}")
