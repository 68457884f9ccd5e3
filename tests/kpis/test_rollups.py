"""The rollups agree exactly with a recount from raw data, after a full build and after every
kind of incremental change (new rows, attribute changes, merges, deletions)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from kpis import rollups
from kpis.models import DailyRollup, LeadFact, PeriodRollup
from leads.models import Activity, Lead
from tenants.context import tenant_scope
from tests.kpis.factories import activity, feedback, jst, lead, stage

pytestmark = pytest.mark.django_db


def assert_exact():
    expected = rollups.recount()
    assert rollups.snapshot() == expected
    assert rollups.period_snapshot() == rollups.period_rows_from(expected)


def history(owner):
    a = lead(at=jst(2026, 5, 31, 23, 50), channel="webinar", campaign="wb-may", owner=owner)  # May in Tokyo
    b = lead(at=jst(2026, 6, 1, 0, 10), channel="seo")  # June in Tokyo (May 31 15:10 UTC)
    c = lead(at=jst(2026, 6, 3), channel="ads", campaign="brand")
    for x in (a, b, c):
        activity(x, "email_send", jst(2026, 6, 2), campaign="news-0602")
    activity(a, "email_open", jst(2026, 6, 2, 9))
    activity(a, "webinar_register", jst(2026, 6, 4))
    activity(a, "webinar_attend", jst(2026, 6, 10))
    activity(a, "meeting", jst(2026, 6, 20))
    activity(b, "download", jst(2026, 6, 5))
    activity(b, "custom_thing", jst(2026, 6, 5))  # unknown types are not rolled up
    stage(a, "mql", jst(2026, 6, 11))
    stage(a, "sql", jst(2026, 6, 12), "mql")
    feedback(a, "opportunity", jst(2026, 6, 15))
    feedback(a, "won", jst(2026, 6, 30, 23, 59), amount=3_000_000)
    stage(c, "sql", jst(2026, 6, 30))  # skipped MQL: still counts as reaching MQL
    feedback(c, "rejected", jst(2026, 7, 1, 0, 0))
    Activity.objects.create(lead=None, anonymous_id="anon-1", type="page_view", occurred_at=jst(2026, 6, 2))
    return a, b, c


class TestFullBuild:
    def test_full_build_equals_recount(self, tenant, users):
        with tenant_scope(tenant.id):
            history(users["sales"])
            stats = rollups.refresh(full=True)
            assert stats.mode == "full"
            assert_exact()
            assert LeadFact.objects.count() == 3

    def test_known_figures_and_tokyo_month_end(self, tenant, users):
        with tenant_scope(tenant.id):
            a, b, c = history(users["sales"])
            rollups.refresh(full=True)
            month = {(r.period_start, r.event): r for r in PeriodRollup.objects.filter(period_type="month", level=0)}

            def count(month_start, event):
                rows = PeriodRollup.objects.filter(period_type="month", period_start=month_start, event=event, level=4)
                assert sum(r.count for r in rows) == month.get((month_start, event), PeriodRollup()).count
                return sum(r.count for r in rows)

            may, june, july = dt.date(2026, 5, 1), dt.date(2026, 6, 1), dt.date(2026, 7, 1)
            assert count(may, "lead") == 1  # 23:50 on May 31 in Tokyo
            assert count(june, "lead") == 2  # 00:10 on June 1 in Tokyo is still May in UTC
            assert count(june, "mql") == 2 and count(june, "sql") == 2 and count(june, "opportunity") == 1
            assert count(june, "won") == 1  # 23:59 on June 30
            assert month[(june, "won")].value == 3_000_000
            assert count(july, "rejected") == 1  # 00:00 on July 1
            assert count(june, "act:email_send") == 3
            assert count(june, "act:custom_thing") == 0
            assert count(june, "meeting_lead") == 1
            customer = PeriodRollup.objects.get(period_type="month", period_start=june, event="customer", level=0)
            assert customer.count == 1 and customer.value == Decimal("30.01")  # 30 days 9 minutes


class TestIncremental:
    def _built(self, tenant, users):
        objs = history(users["sales"])
        rollups.refresh(full=True)
        return objs

    def test_new_rows_are_picked_up_incrementally(self, tenant, users):
        with tenant_scope(tenant.id):
            a, b, c = self._built(tenant, users)
            d = lead(at=jst(2026, 6, 21), channel="seo", campaign="blog")
            activity(d, "email_open", jst(2026, 6, 22))
            activity(b, "meeting", jst(2026, 6, 23))
            stage(b, "mql", jst(2026, 6, 24))
            feedback(b, "accepted", jst(2026, 6, 25))
            feedback(a, "won", jst(2026, 7, 2), amount=None)
            stats = rollups.refresh(sweep=False)
            assert stats.mode == "incremental"
            assert_exact()

    def test_owner_and_channel_changes_move_every_row_of_the_lead(self, tenant, users):
        with tenant_scope(tenant.id):
            a, b, c = self._built(tenant, users)
            a.owner = users["admin"]
            a.channel = "event"
            a.save()
            rollups.mark_leads_dirty(tenant.id, [a.pk], reason="lead_updated")  # what leads.hooks delivers
            stats = rollups.refresh(sweep=False)
            assert stats.mode == "incremental"
            assert_exact()

    def test_owner_change_together_with_new_rows_on_the_same_days(self, tenant, users):
        with tenant_scope(tenant.id):
            a, b, c = self._built(tenant, users)
            a.owner = users["marketing"]
            a.campaign = "wb-june"
            a.save()
            activity(a, "email_open", jst(2026, 6, 2, 10))  # a day the move also touches
            feedback(a, "won", jst(2026, 6, 30, 12), amount=500_000)
            activity(b, "download", jst(2026, 6, 10))
            rollups.mark_leads_dirty(tenant.id, [a.pk], reason="lead_updated")
            rollups.refresh(sweep=False)
            assert_exact()

    def test_leads_hook_is_registered(self, tenant, users, django_capture_on_commit_callbacks):
        from leads.hooks import leads_changed

        with tenant_scope(tenant.id):
            a, b, c = self._built(tenant, users)
            Lead.objects.filter(pk=b.pk).update(owner=users["sales"])
            with django_capture_on_commit_callbacks(execute=True):
                leads_changed([b.pk], reason="owner_changed")
            rollups.refresh(sweep=False)
            assert_exact()

    def test_changes_without_updated_at_are_caught_by_the_sweep(self, tenant, users):
        with tenant_scope(tenant.id):
            a, b, c = self._built(tenant, users)
            Lead.objects.filter(pk=b.pk).update(
                campaign="moved-quietly", updated_at=timezone.now() - dt.timedelta(days=1)
            )
            rollups.refresh(sweep=False)
            assert rollups.snapshot() != rollups.recount()  # invisible to the minute refresh...
            stats = rollups.refresh(sweep=True)
            assert stats.mode == "sweep"
            assert_exact()  # ...but the sweep finds it

    def test_hook_reported_leads_are_refreshed(self, tenant, users):
        with tenant_scope(tenant.id):
            a, b, c = self._built(tenant, users)
            Lead.objects.filter(pk=c.pk).update(owner=users["sales"])
            rollups.mark_leads_dirty(tenant.id, [c.pk], reason="owner")
            rollups.refresh(sweep=False)
            assert_exact()

    def test_deleted_lead_disappears(self, tenant, users):
        with tenant_scope(tenant.id):
            a, b, c = self._built(tenant, users)
            a.delete()
            rollups.refresh(sweep=True)
            assert_exact()
            assert not DailyRollup.objects.filter(event="won").exists()

    def test_merge_moves_rows_to_the_survivor(self, tenant, users):
        from leads.models import LeadMerge

        with tenant_scope(tenant.id):
            a, b, c = self._built(tenant, users)
            Activity.objects.filter(lead=b).update(lead=c)
            LeadMerge.objects.create(survivor=c, merged_lead_id=b.pk, merged_email=b.email, merged_at=timezone.now())
            b.delete()
            stats = rollups.refresh(sweep=False)
            assert stats.mode == "incremental"
            assert_exact()

    def test_late_commit_below_the_watermark_is_seen_by_the_next_refresh(self, tenant, users):
        with tenant_scope(tenant.id):
            a, b, c = self._built(tenant, users)
            late = activity(c, "download", jst(2026, 6, 26))
            late_id = late.pk
            late.delete()  # its transaction has not committed yet...
            activity(c, "download", jst(2026, 6, 27))  # ...while a later id commits
            rollups.refresh(sweep=False)
            Activity.objects.create(pk=late_id, lead=c, type="download", occurred_at=jst(2026, 6, 26))  # commits now
            rollups.refresh(sweep=False)
            assert_exact()

    def test_repeated_refresh_changes_nothing(self, tenant, users):
        with tenant_scope(tenant.id):
            self._built(tenant, users)
            before = rollups.snapshot()
            rollups.refresh(sweep=False)
            rollups.refresh(sweep=True)
            assert rollups.snapshot() == before

    def test_tenants_do_not_mix(self, tenant, other_tenant, users):
        with tenant_scope(other_tenant.id):
            x = lead(at=jst(2026, 6, 2), channel="seo")
            activity(x, "email_open", jst(2026, 6, 2))
            rollups.refresh(full=True)
        with tenant_scope(tenant.id):
            self._built(tenant, users)
            assert_exact()
        with tenant_scope(other_tenant.id):
            assert_exact()
            assert DailyRollup.objects.filter(event="lead").count() == 1


def test_random_sequences_of_changes_stay_exact(tenant, users):
    """A seeded random mix of inserts, attribute changes, merges and deletions, refreshed
    incrementally every few steps: the rollups equal the recount after every refresh. (A plain
    deletion is announced by nobody: the sweep finds it, so a refresh after one sweeps.)"""
    import random

    from leads.models import LeadMerge

    rng = random.Random(20261122)
    owners = [None, users["sales"], users["marketing"]]
    kinds = [
        "email_send",
        "email_open",
        "email_click",
        "download",
        "webinar_register",
        "webinar_attend",
        "meeting",
        "page_view",
        "custom",
    ]

    def when():
        return jst(2026, rng.choice([5, 6, 7]), rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59))

    with tenant_scope(tenant.id):
        pool = [lead(at=when(), channel=rng.choice(["seo", "ads", "event"])) for _ in range(6)]
        rollups.refresh(full=True)
        deleted = False
        for step in range(60):
            op = rng.random()
            target = rng.choice(pool)
            if op < 0.15:
                pool.append(
                    lead(
                        at=when(),
                        channel=rng.choice(["seo", "ads"]),
                        campaign=rng.choice(["", "c1"]),
                        owner=rng.choice(owners),
                    )
                )
            elif op < 0.5:
                activity(target, rng.choice(kinds), when(), campaign=rng.choice(["", "", "news"]))
            elif op < 0.62:
                stage(target, rng.choice(["mql", "sql", "opportunity", "customer"]), when())
            elif op < 0.72:
                feedback(
                    target,
                    rng.choice(["accepted", "rejected", "opportunity", "won", "lost"]),
                    when(),
                    amount=rng.choice([None, 500_000, 1_200_000]),
                )
            elif op < 0.86:
                target.owner = rng.choice(owners)
                target.channel = rng.choice(["seo", "ads", "event"])
                target.save()
                rollups.mark_leads_dirty(tenant.id, [target.pk], reason="lead_updated")
            elif op < 0.93 and len(pool) > 3:
                other = rng.choice([x for x in pool if x.pk != target.pk])
                Activity.objects.filter(lead=other).update(lead=target)
                from leads.models import LeadFeedback, LeadStageChange

                LeadFeedback.objects.filter(lead=other).update(lead=target)
                LeadStageChange.objects.filter(lead=other).update(lead=target)
                LeadMerge.objects.create(
                    survivor=target, merged_lead_id=other.pk, merged_email=other.email, merged_at=timezone.now()
                )
                other.delete()
                pool.remove(other)
            elif len(pool) > 3:
                target.delete()
                pool.remove(target)
                deleted = True
            if step % 4 == 3:
                stats = rollups.refresh(sweep=deleted)
                assert stats.mode == ("sweep" if deleted else "incremental")
                deleted = False
                assert_exact()
        rollups.refresh(sweep=True)
        assert_exact()
