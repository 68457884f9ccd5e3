"""Lead pages: list (search, filters, keyset pages, bulk actions), detail (inline edits, stage), export,
import flow, merge, duplicates, quality, settings — and roles."""

import codecs
import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from leads import services
from leads.models import (
    Activity,
    CustomFieldDefinition,
    DuplicateCandidate,
    FormEndpoint,
    ImportJob,
    ImportStatus,
    IngestMapping,
    Lead,
    LeadMerge,
    LeadStageChange,
)
from tenants.context import tenant_scope
from tenants.models import AuditEvent

from .factories import ActivityFactory, LeadFactory

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def url(tenant, path=""):
    return f"/t/{tenant.slug}/leads/{path}"


@pytest.fixture
def leads(tenant, users):
    with tenant_scope(tenant.id):
        made = [
            LeadFactory(
                email="yamada@a.example.jp",
                name="山田 太郎",
                company="株式会社東京電機",
                stage="mql",
                score_total=80,
                segment="hot",
                industry="製造業",
                owner=users["sales"],
            ),
            LeadFactory(
                email="suzuki@b.example.jp",
                name="鈴木 花子",
                company="大阪商事株式会社",
                score_total=30,
                segment="cold",
                channel="webinar",
            ),
            LeadFactory(
                email="tanaka@c.example.jp",
                name="田中 一郎",
                company="東京物産",
                stage="sql",
                score_total=55,
                segment="warm",
                last_activity_at=timezone.now(),
            ),
        ]
    return made


class TestList:
    def test_list_shows_leads_and_count(self, tenant, users, client_for, leads):
        page = client_for(users["viewer"]).get(url(tenant))
        assert page.status_code == 200
        body = page.content.decode()
        assert "山田 太郎" in body and "鈴木 花子" in body
        assert page.context["page"].count == 3

    def test_japanese_search_and_filters(self, tenant, users, client_for, leads):
        client = client_for(users["viewer"])

        def names(**params):
            return [lead.name for lead in client.get(url(tenant), params).context["page"].leads]

        assert sorted(names(q="東京")) == ["山田 太郎", "田中 一郎"]
        assert names(stage="sql") == ["田中 一郎"]
        assert names(segment="hot") == ["山田 太郎"]
        assert names(owner=str(users["sales"].pk)) == ["山田 太郎"]
        assert sorted(names(owner="none")) == ["田中 一郎", "鈴木 花子"]
        assert names(channel="webinar") == ["鈴木 花子"]
        assert names(industry="製造業") == ["山田 太郎"]
        assert names(score_min=50, score_max=70) == ["田中 一郎"]
        assert names(last_activity="7d") == ["田中 一郎"]

    def test_sorting(self, tenant, users, client_for, leads):
        client = client_for(users["viewer"])
        assert [lead.score_total for lead in client.get(url(tenant), {"o": "-score"}).context["page"].leads] == [
            80,
            55,
            30,
        ]
        assert [lead.score_total for lead in client.get(url(tenant), {"o": "score"}).context["page"].leads] == [
            30,
            55,
            80,
        ]

    def test_bad_filter_is_400_with_a_message(self, tenant, users, client_for, leads):
        response = client_for(users["viewer"]).get(url(tenant), {"stage": "nonsense"})
        assert response.status_code == 400

    def test_htmx_returns_only_the_table(self, tenant, users, client_for, leads):
        response = client_for(users["viewer"]).get(url(tenant), {"q": "山田"}, **HX)
        body = response.content.decode()
        assert 'id="lead-table"' in body and "<html" not in body

    @pytest.mark.parametrize(
        "sort",
        [
            "-created",
            "created",
            "-score",
            "score",
            "name",
            "-name",
            "-last_activity",
            "last_activity",
            "employees",
            "-employees",
        ],
    )
    def test_keyset_pages_cover_every_lead_once_in_both_directions(self, tenant, users, client_for, sort):
        with tenant_scope(tenant.id):
            for i in range(23):
                LeadFactory(
                    score_total=i % 4,
                    name=f"名前{i % 5}",
                    employee_count=None if i % 3 else i * 10,
                    last_activity_at=None if i % 2 else timezone.now() - timezone.timedelta(hours=i % 6),
                )
            expected = set(Lead.objects.values_list("pk", flat=True))
        client = client_for(users["viewer"])
        from leads import selectors

        with tenant_scope(tenant.id):
            seen, pages, cursor = [], [], None
            while True:
                page = selectors.lead_page(Lead.objects.all(), sort=sort, cursor=cursor, size=5)
                pages.append([lead.pk for lead in page.leads])
                seen += pages[-1]
                if not page.next_cursor:
                    break
                last_page, cursor = page, page.next_cursor
            assert len(seen) == len(expected) and set(seen) == expected
            back = selectors.lead_page(Lead.objects.all(), sort=sort, cursor=last_page.next_cursor, size=5)
            previous = selectors.lead_page(Lead.objects.all(), sort=sort, cursor=back.prev_cursor, size=5)
            assert [lead.pk for lead in previous.leads] == pages[-2]
        assert client.get(url(tenant), {"o": sort, "page": cursor}).status_code == 200

    def test_garbage_cursor_shows_the_first_page(self, tenant, users, client_for, leads):
        assert client_for(users["viewer"]).get(url(tenant), {"page": "!!not-a-cursor"}).status_code == 200

    def test_empty_state_says_what_to_do(self, tenant, users, client_for):
        body = client_for(users["admin"]).get(url(tenant)).content.decode()
        assert url(tenant, "import/") in body and f"/t/{tenant.slug}/api-keys/" in body


class TestBulkActions:
    def test_assign_owner(self, tenant, users, client_for, leads):
        response = client_for(users["marketing"]).post(
            url(tenant, "bulk/"),
            {"ids": [leads[1].pk, leads[2].pk], "action": "owner", "owner": str(users["admin"].pk)},
            **HX,
        )
        assert response.status_code == 200
        with tenant_scope(tenant.id):
            assert set(Lead.objects.filter(owner=users["admin"]).values_list("pk", flat=True)) == {
                leads[1].pk,
                leads[2].pk,
            }

    def test_change_stage_keeps_history(self, tenant, users, client_for, leads):
        client_for(users["sales"]).post(
            url(tenant, "bulk/"), {"ids": [leads[0].pk, leads[1].pk], "action": "stage", "stage": "sql"}
        )
        with tenant_scope(tenant.id):
            assert set(Lead.objects.filter(stage="sql").values_list("pk", flat=True)) == {
                leads[0].pk,
                leads[1].pk,
                leads[2].pk,
            }
            assert LeadStageChange.objects.filter(to_stage="sql").count() == 2

    def test_nothing_selected_is_400_and_changes_nothing(self, tenant, users, client_for, leads):
        response = client_for(users["sales"]).post(url(tenant, "bulk/"), {"action": "stage", "stage": "sql"}, **HX)
        assert response.status_code == 400
        with tenant_scope(tenant.id):
            assert Lead.objects.filter(stage="sql").count() == 1

    def test_owner_must_be_a_member(self, tenant, other_tenant, users, client_for, leads):
        from tests.factories import member

        outsider = member(other_tenant, "sales")
        client_for(users["marketing"]).post(
            url(tenant, "bulk/"), {"ids": [leads[1].pk], "action": "owner", "owner": str(outsider.pk)}
        )
        with tenant_scope(tenant.id):
            assert Lead.objects.get(pk=leads[1].pk).owner_id is None

    def test_viewer_cannot(self, tenant, users, client_for, leads):
        response = client_for(users["viewer"]).post(
            url(tenant, "bulk/"), {"ids": [leads[1].pk], "action": "stage", "stage": "sql"}
        )
        assert response.status_code == 403


class TestDetail:
    def test_detail_shows_attributes_history_and_timeline(self, tenant, users, client_for, leads):
        with tenant_scope(tenant.id):
            ActivityFactory(lead=leads[0], type="pricing_view", url="https://example.jp/pricing")
            services.lead_change_stage(lead=leads[0], stage="sql", actor=users["sales"], reason="商談化")
        body = client_for(users["viewer"]).get(url(tenant, f"{leads[0].pk}/")).content.decode()
        assert "株式会社東京電機" in body and "https://example.jp/pricing" in body and "商談化" in body

    def test_inline_edit_round_trip(self, tenant, users, client_for, leads):
        client = client_for(users["sales"])
        editor = client.get(url(tenant, f"{leads[1].pk}/field/title/?edit=1"), **HX)
        assert editor.status_code == 200 and "<form" in editor.content.decode()
        saved = client.post(url(tenant, f"{leads[1].pk}/field/title/"), {"attr-title-value": "情報システム部長"}, **HX)
        assert saved.status_code == 200 and "情報システム部長" in saved.content.decode()
        assert "<form" not in saved.content.decode()
        with tenant_scope(tenant.id):
            assert Lead.objects.get(pk=leads[1].pk).title == "情報システム部長"

    def test_inline_edit_error_is_400_next_to_the_field_and_changes_nothing(self, tenant, users, client_for, leads):
        response = client_for(users["sales"]).post(
            url(tenant, f"{leads[1].pk}/field/employee_count/"),
            {"attr-employee_count-value": "たくさん"},
            **HX,
        )
        assert response.status_code == 400
        assert "従業員数は120のような整数で入力してください。" in response.content.decode()  # the user's language
        with tenant_scope(tenant.id):
            assert Lead.objects.get(pk=leads[1].pk).employee_count is None

    def test_inline_edit_of_owner_channel_and_custom_field(self, tenant, users, client_for, leads):
        with tenant_scope(tenant.id):
            services.custom_field_create(label="予算規模", field_type="number")
        client = client_for(users["marketing"])
        client.post(url(tenant, f"{leads[1].pk}/field/owner/"), {"attr-owner-value": str(users["sales"].pk)}, **HX)
        client.post(url(tenant, f"{leads[1].pk}/field/channel/"), {"attr-channel-value": "event"}, **HX)
        client.post(url(tenant, f"{leads[1].pk}/field/cf_field/"), {"attr-cf_field-value": "500"}, **HX)
        with tenant_scope(tenant.id):
            lead = Lead.objects.get(pk=leads[1].pk)
        assert (lead.owner_id, lead.channel, lead.custom_fields) == (users["sales"].pk, "event", {"field": 500})

    def test_unknown_field_is_404(self, tenant, users, client_for, leads):
        assert client_for(users["sales"]).get(url(tenant, f"{leads[1].pk}/field/score_total/")).status_code == 404

    def test_viewer_sees_but_cannot_edit(self, tenant, users, client_for, leads):
        client = client_for(users["viewer"])
        assert client.get(url(tenant, f"{leads[1].pk}/field/title/")).status_code == 200
        assert client.get(url(tenant, f"{leads[1].pk}/field/title/?edit=1")).status_code == 403
        assert client.post(url(tenant, f"{leads[1].pk}/field/title/"), {"attr-title-value": "x"}).status_code == 403

    def test_stage_change_from_the_page(self, tenant, users, client_for, leads):
        response = client_for(users["sales"]).post(
            url(tenant, f"{leads[1].pk}/stage/"), {"stage": "opportunity", "reason": "予算確保"}, **HX
        )
        assert response.status_code == 200
        with tenant_scope(tenant.id):
            change = LeadStageChange.objects.get(lead=leads[1])
        assert (change.from_stage, change.to_stage, change.reason, change.changed_by) == (
            "lead",
            "opportunity",
            "予算確保",
            users["sales"],
        )

    def test_timeline_pages(self, tenant, users, client_for, leads):
        with tenant_scope(tenant.id):
            for i in range(60):
                ActivityFactory(lead=leads[0], occurred_at=timezone.now() - timezone.timedelta(minutes=i))
            oldest_shown = list(Activity.objects.filter(lead=leads[0]).order_by("-occurred_at", "-id"))[49]
        more = client_for(users["viewer"]).get(url(tenant, f"{leads[0].pk}/timeline/?before={oldest_shown.pk}"), **HX)
        assert more.content.decode().count("timeline-item") == 10

    def test_delete(self, tenant, users, client_for, leads):
        assert client_for(users["sales"]).post(url(tenant, f"{leads[1].pk}/delete/")).status_code == 403
        client_for(users["marketing"]).post(url(tenant, f"{leads[1].pk}/delete/"))
        with tenant_scope(tenant.id):
            assert not Lead.objects.filter(pk=leads[1].pk).exists()
            assert AuditEvent.objects.filter(action="lead.deleted").exists()

    def test_create(self, tenant, users, client_for):
        client = client_for(users["marketing"])
        bad = client.post(url(tenant, "new/"), {"email": "nope"})
        assert bad.status_code == 400
        good = client.post(url(tenant, "new/"), {"email": "New@Example.jp", "name": "新規 太郎", "channel": "seo"})
        assert good.status_code == 302
        with tenant_scope(tenant.id):
            assert Lead.objects.get(email="new@example.jp").name == "新規 太郎"


class TestExport:
    def test_export_is_the_filtered_list_with_bom_and_escaped_formulas(self, tenant, users, client_for, leads):
        with tenant_scope(tenant.id):
            LeadFactory(
                email="evil@example.jp",
                name='=HYPERLINK("http://x")',
                company="+cmd",
                title="-1",
                department="@SUM(A1)",
                stage="sql",
            )
        response = client_for(users["sales"]).get(url(tenant, "export/"), {"stage": "sql"})
        assert response.status_code == 200
        data = b"".join(response.streaming_content)
        assert data.startswith(codecs.BOM_UTF8)
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
        assert {row[0] for row in rows[1:]} == {"tanaka@c.example.jp", "evil@example.jp"}
        evil = next(row for row in rows if row[0] == "evil@example.jp")
        assert evil[1].startswith("'=") and evil[2] == "'+cmd" and evil[3] == "'-1" and evil[4] == "'@SUM(A1)"
        assert "田中 一郎" in data.decode("utf-8-sig")

    def test_export_escapes_full_width_hidden_and_separator_formulas(self, tenant, users, client_for, leads):
        sneaky = ['＝HYPERLINK("http://x")', "\u200b=cmd|' /C calc'!A0", "|calc", ";=1", "＠SUM(A1)"]
        with tenant_scope(tenant.id):
            LeadFactory(
                email="sneaky@example.jp",
                name=sneaky[0],
                company=sneaky[1],
                title=sneaky[2],
                department=sneaky[3],
                industry=sneaky[4],
                stage="sql",
            )
        response = client_for(users["sales"]).get(url(tenant, "export/"), {"stage": "sql"})
        rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
        row = next(row for row in rows if row[0] == "sneaky@example.jp")
        assert [row[1], row[2], row[3], row[4], row[7]] == ["'" + text for text in sneaky]

    def test_viewer_cannot_export(self, tenant, users, client_for, leads):
        assert client_for(users["viewer"]).get(url(tenant, "export/")).status_code == 403


class TestImportFlow:
    def _csv(self):
        return "メールアドレス,氏名,会社名\r\ntaro@example.jp,山田 太郎,株式会社サンプル\r\nbad,鈴木,X\r\n".encode(
            "cp932"
        )

    def test_upload_map_preview_import_and_errors(self, tenant, users, client_for, django_capture_on_commit_callbacks):
        client = client_for(users["marketing"])
        response = client.post(
            url(tenant, "import/"), {"file": SimpleUploadedFile("l.csv", self._csv()), "encoding": "auto"}
        )
        assert response.status_code == 302
        with tenant_scope(tenant.id):
            job = ImportJob.objects.get()
        assert job.encoding == "cp932"
        mapping_page = client.get(url(tenant, f"import/{job.pk}/"))
        assert "山田 太郎" in mapping_page.content.decode()
        form = {"encoding": "cp932", "col_0": "email", "col_1": "name", "col_2": "company"}
        preview = client.post(url(tenant, f"import/{job.pk}/preview/"), form, **HX)
        assert preview.status_code == 200 and "cell-error" in preview.content.decode()
        with django_capture_on_commit_callbacks(execute=True):
            started = client.post(url(tenant, f"import/{job.pk}/start/"), form)
        assert started.status_code == 302
        with tenant_scope(tenant.id):
            job.refresh_from_db()
            assert job.status == ImportStatus.DONE and (job.created_count, job.error_count) == (1, 1)
        result = client.get(url(tenant, f"import/{job.pk}/"))
        assert url(tenant, f"import/{job.pk}/errors.csv") in result.content.decode()
        errors = client.get(url(tenant, f"import/{job.pk}/errors.csv"))
        assert errors.content.startswith(codecs.BOM_UTF8) and "bad" in errors.content.decode("utf-8-sig")
        finished = client.get(url(tenant, f"import/{job.pk}/progress/"), **HX)
        assert finished.status_code == 200 and finished["HX-Redirect"]

    def test_mapping_without_email_is_400(self, tenant, users, client_for):
        client = client_for(users["marketing"])
        client.post(url(tenant, "import/"), {"file": SimpleUploadedFile("l.csv", self._csv()), "encoding": "auto"})
        with tenant_scope(tenant.id):
            job = ImportJob.objects.get()
        response = client.post(url(tenant, f"import/{job.pk}/start/"), {"encoding": "cp932", "col_1": "name"})
        assert response.status_code == 400
        with tenant_scope(tenant.id):
            assert ImportJob.objects.get().status == ImportStatus.UPLOADED and Lead.objects.count() == 0

    def test_bad_upload_is_400(self, tenant, users, client_for):
        response = client_for(users["marketing"]).post(
            url(tenant, "import/"), {"file": SimpleUploadedFile("l.csv", b""), "encoding": "auto"}
        )
        assert response.status_code == 400

    def test_progress_while_running(self, tenant, users, client_for):
        with tenant_scope(tenant.id):
            job = ImportJob.objects.create(
                file_name="x.csv",
                raw=b"email\na@b.jp\n",
                encoding="utf-8",
                header=["email"],
                mapping=["email"],
                row_count=1,
                status=ImportStatus.RUNNING,
            )
        response = client_for(users["marketing"]).get(url(tenant, f"import/{job.pk}/progress/"), **HX)
        assert response.status_code == 200 and 'role="progressbar"' in response.content.decode()
        assert "hx-trigger" in response.content.decode()

    def test_sales_cannot_import(self, tenant, users, client_for):
        assert client_for(users["sales"]).get(url(tenant, "import/")).status_code == 403


class TestMergeAndDuplicates:
    def test_merge_from_the_ui(self, tenant, users, client_for):
        with tenant_scope(tenant.id):
            a = LeadFactory(name="山田 太郎", company="株式会社サンプル")
            b = LeadFactory(name="山田太郎", company="サンプル(株)")
            ActivityFactory(lead=b)
            services.duplicates_flag([a.pk])
            assert DuplicateCandidate.objects.count() == 1
        client = client_for(users["marketing"])
        assert "山田太郎" in client.get(url(tenant, "duplicates/")).content.decode()
        confirm = client.get(url(tenant, f"{a.pk}/merge/?other={b.pk}"))
        assert confirm.status_code == 200
        assert client.post(url(tenant, f"{a.pk}/merge/"), {"other": b.pk}).status_code == 302
        with tenant_scope(tenant.id):
            assert not Lead.objects.filter(pk=b.pk).exists()
            assert Activity.objects.filter(lead=a).count() == 1
            assert LeadMerge.objects.filter(survivor=a, merged_lead_id=b.pk).exists()
            assert DuplicateCandidate.objects.count() == 0

    def test_dismiss(self, tenant, users, client_for):
        with tenant_scope(tenant.id):
            a = LeadFactory(name="山田 太郎", company="株式会社サンプル")
            LeadFactory(name="山田太郎", company="サンプル(株)")
            services.duplicates_flag([a.pk])
            pair = DuplicateCandidate.objects.get()
        client_for(users["marketing"]).post(url(tenant, f"duplicates/{pair.pk}/dismiss/"))
        with tenant_scope(tenant.id):
            assert DuplicateCandidate.objects.get().status == "dismissed"
            services.duplicates_flag([a.pk])  # a dismissed pair is not flagged again
            assert DuplicateCandidate.objects.get().status == "dismissed"


class TestQualityAndSettings:
    def test_quality_page(self, tenant, users, client_for, leads):
        response = client_for(users["viewer"]).get(url(tenant, "quality/"))
        assert response.status_code == 200
        assert 'data-chart="bar"' in response.content.decode()

    def test_settings_channels_fields_types_mappings_forms(self, tenant, users, client_for):
        client = client_for(users["marketing"])
        assert client.get(url(tenant, "settings/")).status_code == 200
        client.post(url(tenant, "settings/"), {"action": "channel", "channel-label": "パートナー経由"})
        client.post(url(tenant, "settings/"), {"action": "channel_toggle", "key": "sns", "active": "0"})
        client.post(
            url(tenant, "settings/"),
            {
                "action": "custom_field",
                "custom_field-label": "導入製品",
                "custom_field-field_type": "choice",
                "custom_field-choices": "Basic\nPro",
                "custom_field-filterable": "on",
            },
        )
        client.post(
            url(tenant, "settings/"),
            {"action": "activity_type", "activity_type-label": "Trial started", "activity_type-key": "trial_start"},
        )
        client.post(
            url(tenant, "settings/"),
            {
                "action": "mapping",
                "mapping-kind": "event",
                "mapping-source": "Trial Started",
                "mapping-target": "trial_start",
            },
        )
        client.post(url(tenant, "settings/"), {"action": "form", "form-name": "Contact us", "form-channel": "seo"})
        with tenant_scope(tenant.id):
            from leads import selectors

            labels = {c.key: c.label for c in selectors.channels()}
            assert "パートナー経由" in labels.values() and "sns" not in labels
            assert CustomFieldDefinition.objects.get().choices == ["Basic", "Pro"]
            assert "trial_start" in selectors.known_activity_types()
            assert IngestMapping.objects.get().target == "trial_start"
            assert FormEndpoint.objects.get().channel == "seo"
        # The custom field is now a filter of the list.
        assert "cf_field" in client.get(url(tenant)).content.decode()

    def test_settings_bad_input_is_400(self, tenant, users, client_for):
        client = client_for(users["marketing"])
        assert (
            client.post(
                url(tenant, "settings/"),
                {"action": "custom_field", "custom_field-label": "x", "custom_field-field_type": "choice"},
            ).status_code
            == 400
        )
        assert (
            client.post(
                url(tenant, "settings/"),
                {"action": "mapping", "mapping-kind": "event", "mapping-source": "X", "mapping-target": "teleport"},
            ).status_code
            == 400
        )
        with tenant_scope(tenant.id):
            assert CustomFieldDefinition.objects.count() == 0 and IngestMapping.objects.count() == 0

    def test_settings_need_manage_leads(self, tenant, users, client_for):
        assert client_for(users["sales"]).get(url(tenant, "settings/")).status_code == 403
