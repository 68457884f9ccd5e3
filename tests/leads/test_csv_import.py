"""CSV import: three encodings, per-cell errors, all-or-nothing writes, idempotent re-import, duplicates."""

import codecs
import csv
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from leads import csv_import, services
from leads.models import DuplicateCandidate, ImportJob, ImportStatus, Lead, LeadStageChange

from .factories import LeadFactory

pytestmark = pytest.mark.django_db

HEADER = ["メールアドレス", "氏名", "会社名", "役職", "従業員数", "流入経路", "ステージ"]
ROWS = [
    ["taro@example.co.jp", "山田 太郎", "株式会社サンプル", "情報システム部長", "1,200", "ウェビナー", "MQL"],
    ["hanako@example.co.jp", "鈴木 花子", "ｻﾝﾌﾟﾙ商事(株)", "課長", "３５０名", "SEO・自然検索", ""],
    ["not-an-email", "田中 一郎", "東京物産", "", "many", "FAX", ""],
    ["jiro@example.co.jp", "佐藤 次郎", "大阪電機", "", "", "展示会・イベント", "存在しない"],
]


def csv_bytes(rows, encoding: str, header=HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    data = out.getvalue()
    if encoding == "utf-8-sig":
        return codecs.BOM_UTF8 + data.encode("utf-8")
    return data.encode(encoding)


def upload(data: bytes, name="leads.csv", encoding="auto", actor=None) -> ImportJob:
    return csv_import.import_create(uploaded=SimpleUploadedFile(name, data, "text/csv"), encoding=encoding, actor=actor)


def run(job: ImportJob, capture) -> ImportJob:
    csv_import.import_set_mapping(job=job, mapping=job.mapping, encoding=job.encoding)
    with capture(execute=True):
        csv_import.import_start(job=job)
    job.refresh_from_db()
    return job


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


class TestEncodings:
    @pytest.mark.parametrize(
        ("encoding", "detected"), [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp932", "cp932")]
    )
    def test_detected_and_imported(self, scoped, capture, encoding, detected):
        job = upload(csv_bytes(ROWS, encoding))
        assert job.encoding_detected == detected
        assert job.header == HEADER
        assert job.mapping == ["email", "name", "company", "title", "employee_count", "channel", "stage"]
        job = run(job, capture)
        assert job.status == ImportStatus.DONE, job.failure
        assert (job.created_count, job.error_count) == (2, 2)
        taro = Lead.objects.get(email="taro@example.co.jp")
        assert (taro.name, taro.company_normalized, taro.employee_count, taro.channel, taro.stage) == (
            "山田 太郎",
            "サンプル",
            1200,
            "webinar",
            "mql",
        )
        assert LeadStageChange.objects.filter(lead=taro, to_stage="mql").count() == 1
        hanako = Lead.objects.get(email="hanako@example.co.jp")
        assert (hanako.employee_count, hanako.channel, hanako.stage) == (350, "seo", "lead")

    def test_shift_jis_with_kanji_outside_jis_x_0208(self, scoped, capture):
        # ①, ㈱ and 髙 exist only in CP932 (Microsoft's Shift_JIS): Japanese Excel writes them.
        rows = [["takahashi@example.co.jp", "髙橋 ①", "㈱髙島屋", "", "", "", ""]]
        job = run(upload(csv_bytes(rows, "cp932")), capture)
        assert job.status == ImportStatus.DONE
        lead = Lead.objects.get(email="takahashi@example.co.jp")
        assert lead.name == "髙橋 ①" and lead.company_normalized == "髙島屋"

    def test_encoding_can_be_chosen(self, scoped, capture):
        job = upload(csv_bytes(ROWS[:1], "cp932"), encoding="cp932")
        assert job.encoding == "cp932"

    def test_wrong_encoding_choice_is_a_clear_error(self, scoped):
        with pytest.raises(ValidationError) as error:
            upload(csv_bytes(ROWS, "cp932"), encoding="utf-8")
        assert "Shift_JIS" in str(error.value)
        assert ImportJob.objects.count() == 0

    def test_tab_separated(self, scoped, capture):
        data = "email\tname\ntab@example.jp\tタブ 太郎\n".encode()
        job = run(upload(data), capture)
        assert Lead.objects.get(email="tab@example.jp").name == "タブ 太郎"
        assert job.created_count == 1


class TestUnreadableFiles:
    """Files the parser cannot take get a clear error in the user's language (never a 5xx)."""

    def test_a_cell_over_128_kb_is_a_clear_error(self, scoped):
        data = csv_bytes([["a@example.jp", "x" * 200_000]], "utf-8", header=["email", "need"])
        with translation.override("en"), pytest.raises(ValidationError) as error:
            upload(data)
        assert "128 KB" in str(error.value) and "2" in str(error.value)  # the row the cell is on
        assert ImportJob.objects.count() == 0

    @pytest.mark.parametrize(
        "data",
        [
            codecs.BOM_UTF16_LE + "email,name\r\na@example.jp,山田\r\n".encode("utf-16-le"),
            codecs.BOM_UTF16_BE + "email,name\r\na@example.jp,山田\r\n".encode("utf-16-be"),
            "email,name\r\na@example.jp,yamada\r\n".encode("utf-16-le"),  # no BOM
        ],
        ids=["utf-16-le", "utf-16-be", "utf-16-no-bom"],
    )
    @pytest.mark.parametrize("encoding", ["auto", "utf-8", "cp932"])
    def test_utf16_is_a_clear_error(self, scoped, data, encoding):
        with translation.override("en"), pytest.raises(ValidationError) as error:
            upload(data, encoding=encoding)
        assert "UTF-16" in str(error.value)
        assert ImportJob.objects.count() == 0

    def test_a_nul_in_the_header_row_is_a_clear_error(self, scoped):
        with pytest.raises(ValidationError):
            upload(csv_bytes([["a@example.jp", "x"]], "utf-8", header=["email", "na\x00me"]))
        assert ImportJob.objects.count() == 0

    def test_the_upload_page_answers_400_with_the_message(self, tenant, users, client_for):
        data = codecs.BOM_UTF16_LE + "email\r\na@example.jp\r\n".encode("utf-16-le")
        client = client_for(users["marketing"])
        response = client.post(
            f"/t/{tenant.slug}/leads/import/",
            {"file": SimpleUploadedFile("l.csv", data), "encoding": "auto"},
            HTTP_ACCEPT_LANGUAGE="en",
        )
        assert response.status_code == 400 and "UTF-16" in response.content.decode()


class TestErrors:
    def test_rows_with_errors_are_reported_per_cell_and_not_imported(self, scoped, capture):
        job = run(upload(csv_bytes(ROWS, "utf-8")), capture)
        assert not Lead.objects.filter(name__in=["田中 一郎", "佐藤 次郎"]).exists()
        by_cell = {(row, column) for row, column, _message in job.errors}
        assert by_cell == {(4, 0), (4, 4), (4, 5), (5, 6)}  # rows as Excel numbers them; columns from 0

    def test_error_csv_lists_the_rows_with_their_messages(self, scoped, capture):
        job = run(upload(csv_bytes(ROWS, "cp932")), capture)
        data = csv_import.error_csv(job)
        assert data.startswith(codecs.BOM_UTF8)
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
        assert rows[0][1:-1] == HEADER
        assert [r[0] for r in rows[1:]] == ["4", "5"]
        assert "メールアドレス" in rows[1][-1] and "流入経路" in rows[1][-1]

    def test_a_nul_cell_rejects_only_its_row_with_the_reason(self, scoped, capture):
        rows = [
            ["ok1@example.jp", "山田 太郎", "", "", "", "", ""],
            ["nul@example.jp", "鈴木\x00花子", "", "", "", "", ""],
            ["ok2@example.jp", "佐藤 次郎", "", "", "", "", ""],
        ]
        with translation.override("en"):
            job = run(upload(csv_bytes(rows, "utf-8")), capture)
        assert job.status == ImportStatus.DONE, job.failure
        assert (job.created_count, job.error_count) == (2, 1)
        assert sorted(Lead.objects.values_list("email", flat=True)) == ["ok1@example.jp", "ok2@example.jp"]
        [(row, column, message)] = job.errors
        assert (row, column) == (3, 1) and "NUL" in message and "\x00" not in message
        assert b"NUL" in csv_import.error_csv(job)

    def test_a_nul_in_a_custom_field_cell_rejects_only_its_row(self, scoped, capture):
        services.custom_field_create(label="メモ", key="memo", field_type="text")
        data = csv_bytes([["ok@example.jp", "a"], ["nul@example.jp", "\x00"]], "utf-8", header=["email", "メモ"])
        job = run(upload(data), capture)
        assert job.status == ImportStatus.DONE and (job.created_count, job.error_count) == (1, 1)

    def test_error_csv_escapes_formulas(self, scoped, capture):
        rows = [['=HYPERLINK("http://evil")', "x", "", "", "", "", ""]]
        job = run(upload(csv_bytes(rows, "utf-8")), capture)
        assert b"'=HYPERLINK" in csv_import.error_csv(job)

    def test_a_crash_imports_nothing(self, scoped, capture, monkeypatch):
        """Writes happen in one transaction: a failure half-way leaves no lead behind."""
        from leads import ingest

        original = ingest._insert_leads
        calls = []

        def fail_on_second_chunk(rows, *, now):
            calls.append(len(rows))
            if len(calls) == 2:
                raise RuntimeError("disk full")
            return original(rows, now=now)

        monkeypatch.setattr(ingest, "_insert_leads", fail_on_second_chunk)
        rows = [[f"bulk{i}@example.jp", f"名前{i}", "", "", "", "", ""] for i in range(6000)]  # two chunks
        job = run(upload(csv_bytes(rows, "utf-8")), capture)
        assert job.status == ImportStatus.FAILED
        assert "nothing was imported" in job.failure or "何も取り込まれていません" in job.failure
        assert calls == [5000, 1000]  # the first chunk was written, then the failure
        assert Lead.objects.count() == 0

    def test_mapping_without_email_is_refused(self, scoped):
        job = upload(csv_bytes(ROWS, "utf-8"))
        with pytest.raises(ValidationError):
            csv_import.import_set_mapping(job=job, mapping=["", "name", "", "", "", "", ""], encoding="utf-8")
        with pytest.raises(ValidationError):
            csv_import.import_set_mapping(job=job, mapping=["email", "name", "name", "", "", "", ""], encoding="utf-8")

    @pytest.mark.parametrize("data", [b"", b"email\n", b"\xef\xbb\xbf"])
    def test_empty_files_are_refused(self, scoped, data):
        with pytest.raises(ValidationError):
            upload(data)
        assert ImportJob.objects.count() == 0

    def test_preview_shows_errors_per_cell(self, scoped):
        job = upload(csv_bytes(ROWS, "utf-8"))
        result = csv_import.preview(job, mapping=job.mapping, encoding=job.encoding)
        assert result["row_count"] == 4
        assert [sorted(row.errors) for row in result["rows"]] == [[], [], [0, 4, 5], [6]]


class TestIdempotenceAndDuplicates:
    def test_reimporting_the_same_file_changes_nothing(self, scoped, capture):
        data = csv_bytes(ROWS, "utf-8")
        run(upload(data), capture)
        before = {lead.pk: lead.updated_at for lead in Lead.objects.all()}
        second = run(upload(data), capture)
        assert (second.created_count, second.updated_count, second.unchanged_count) == (0, 0, 2)
        assert {lead.pk: lead.updated_at for lead in Lead.objects.all()} == before
        assert LeadStageChange.objects.count() == 1

    def test_existing_leads_are_matched_by_normalised_email_and_empty_cells_keep_values(self, scoped, capture):
        LeadFactory(email="taro@example.co.jp", name="旧姓 太郎", title="部長", phone="03-0000-0000")
        rows = [["ＴＡＲＯ@Example.co.jp", "山田 太郎", "", "", "", "", ""]]
        job = run(upload(csv_bytes(rows, "utf-8")), capture)
        assert (job.created_count, job.updated_count) == (0, 1)
        lead = Lead.objects.get(email="taro@example.co.jp")
        assert (lead.name, lead.title, lead.phone) == ("山田 太郎", "部長", "03-0000-0000")

    def test_same_company_and_name_is_flagged_not_merged(self, scoped, capture):
        LeadFactory(email="yamada@old.example.jp", name="山田太郎", company="サンプル株式会社")
        job = run(upload(csv_bytes(ROWS[:1], "utf-8")), capture)
        assert job.duplicate_count == 1
        assert Lead.objects.count() == 2
        pair = DuplicateCandidate.objects.get()
        assert {pair.lead_a.email, pair.lead_b.email} == {"yamada@old.example.jp", "taro@example.co.jp"}

    def test_merged_email_updates_the_survivor(self, scoped, capture):
        survivor = LeadFactory(email="main@example.jp")
        other = LeadFactory(email="old@example.jp")
        services.lead_merge(survivor=survivor, other=other)
        job = run(upload(b"email,title\nold@example.jp,CTO\n"), capture)
        assert (job.created_count, job.updated_count) == (0, 1)
        assert Lead.objects.get(pk=survivor.pk).title == "CTO"
        assert not Lead.objects.filter(email="old@example.jp").exists()

    def test_custom_fields_and_owner(self, scoped, capture, users):
        services.custom_field_create(label="導入予定製品", field_type="choice", choices=["Basic", "Pro"])
        data = f"email,担当営業,導入予定製品\na@example.jp,{users['sales'].email},pro\nb@example.jp,nobody@x.jp,Gold\n"
        job = run(upload(data.encode()), capture)
        lead = Lead.objects.get(email="a@example.jp")
        assert lead.owner_id == users["sales"].pk and lead.custom_fields == {"field": "Pro"}
        again = run(upload(data.encode()), capture)
        assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 1)
        assert {(row, column) for row, column, _m in job.errors} == {(3, 1), (3, 2)}
