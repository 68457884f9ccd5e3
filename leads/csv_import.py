"""CSV import of leads: upload → column mapping (htmx) → preview with per-cell errors → Celery task.

- Encodings: UTF-8, UTF-8 with BOM and Shift_JIS/CP932 (Japanese Excel's default) are detected
  (BOM, strict UTF-8, then charset-normalizer restricted to Japanese encodings) or chosen.
- A row with any invalid cell is not imported at all; it is listed in the downloadable error CSV.
- Valid rows are upserted by normalised email in one transaction (`ingest.upsert_leads`,
  set-based): either the whole import is written or — on a crash — nothing. Re-importing the same
  file changes nothing. Empty cells leave existing values as they are.
- Same company + name as another lead: flagged as a duplicate candidate, never merged.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tenants.context import activate_in_transaction, require_tenant_id
from tenants.csvutil import escape_formula
from tenants.services import audit_record

from .ingest import upsert_leads
from .models import ImportJob, ImportStatus
from .normalize import nfkc
from .validation import LeadFieldContext, clean_custom_value, clean_lead_fields, storable_text, unstorable

logger = logging.getLogger("ondo.leads.csv")

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_ROWS = 300_000
PREVIEW_ROWS = 20
ENCODING_CHOICES = [
    ("auto", gettext_lazy("Detect automatically")),
    ("utf-8", gettext_lazy("UTF-8")),
    ("utf-8-sig", gettext_lazy("UTF-8 with BOM")),
    ("cp932", gettext_lazy("Shift_JIS (Japanese Excel)")),
]
_JAPANESE_ENCODINGS = {
    "cp932": "cp932",
    "shift_jis": "cp932",
    "shift_jis_2004": "cp932",
    "shift_jisx0213": "cp932",
    "euc_jp": "euc_jp",
    "iso2022_jp": "iso2022_jp",
    "utf_8": "utf-8",
    "ascii": "utf-8",
}

# Import targets (the mapping's values). Custom fields are "custom.<key>".
TARGETS: list[tuple[str, Any]] = [
    ("email", gettext_lazy("Email")),
    ("name", gettext_lazy("Name")),
    ("last_name", gettext_lazy("Family name")),
    ("first_name", gettext_lazy("Given name")),
    ("company", gettext_lazy("Company")),
    ("title", gettext_lazy("Job title")),
    ("department", gettext_lazy("Department")),
    ("employee_count", gettext_lazy("Employees")),
    ("size_band", gettext_lazy("Company size band")),
    ("industry", gettext_lazy("Industry")),
    ("phone", gettext_lazy("Phone")),
    ("channel", gettext_lazy("Source channel")),
    ("campaign", gettext_lazy("Campaign")),
    ("owner", gettext_lazy("Owner (member's email)")),
    ("stage", gettext_lazy("Stage")),
    ("authority", gettext_lazy("Decision authority")),
    ("need", gettext_lazy("Need / challenge")),
    ("budget", gettext_lazy("Budget")),
    ("timing", gettext_lazy("Timing")),
    ("email_consent", gettext_lazy("Email consent")),
    ("unsubscribed", gettext_lazy("Unsubscribed")),
]

# Header names seen in Japanese and English exports (compared after NFKC + lower + no spaces).
HEADER_ALIASES = {
    "email": [
        "email",
        "e-mail",
        "emailaddress",
        "mail",
        "メール",
        "メールアドレス",
        "eメール",
        "eメールアドレス",
        "電子メール",
        "mailaddress",
    ],
    "name": ["name", "fullname", "氏名", "名前", "お名前", "担当者名", "担当者", "contactname"],
    "last_name": ["lastname", "familyname", "surname", "姓", "苗字", "名字"],
    "first_name": ["firstname", "givenname", "名"],
    "company": ["company", "companyname", "account", "organization", "会社名", "企業名", "会社", "法人名", "勤務先"],
    "title": ["title", "jobtitle", "position", "役職", "役職名", "肩書き", "肩書"],
    "department": ["department", "dept", "部署", "部署名", "部門", "所属"],
    "employee_count": ["employees", "employeecount", "numberofemployees", "従業員数", "社員数", "従業員"],
    "size_band": ["companysize", "size", "sizeband", "企業規模", "規模", "会社規模"],
    "industry": ["industry", "業種", "業界"],
    "phone": ["phone", "tel", "telephone", "phonenumber", "電話番号", "電話", "連絡先電話番号"],
    "channel": ["channel", "source", "leadsource", "流入経路", "チャネル", "チャネル名", "獲得経路", "リードソース"],
    "campaign": ["campaign", "utmcampaign", "キャンペーン", "施策", "キャンペーン名"],
    "owner": ["owner", "salesowner", "担当営業", "営業担当", "所有者", "担当営業メール"],
    "stage": ["stage", "lifecyclestage", "status", "ステージ", "ステータス", "フェーズ"],
    "authority": ["authority", "decisionauthority", "決裁権", "決裁権限"],
    "need": ["need", "needs", "challenge", "課題", "ニーズ", "お問い合わせ内容"],
    "budget": ["budget", "予算"],
    "timing": ["timing", "timeline", "導入時期", "検討時期", "時期"],
    "email_consent": ["emailconsent", "optin", "メール配信許諾", "配信許可"],
    "unsubscribed": ["unsubscribed", "optout", "配信停止"],
}


def _header_key(text: str) -> str:
    return "".join(nfkc(text).lower().split()).replace("_", "").replace("-", "").replace("・", "")


# --- reading the file ------------------------------------------------------------------------------


def detect_encoding(raw: bytes) -> str:
    """utf-8-sig (BOM), utf-8 (strictly valid), else the best Japanese encoding (CP932 by default)."""
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    sample = raw[: 256 * 1024]
    best = from_bytes(sample, cp_isolation=["cp932", "shift_jis", "euc_jp", "iso2022_jp"]).best()
    if best is not None and best.encoding in _JAPANESE_ENCODINGS:
        encoding = _JAPANESE_ENCODINGS[best.encoding]
        try:
            raw.decode(encoding)
            return encoding
        except UnicodeDecodeError:
            pass
    return "cp932"


def decode(raw: bytes, encoding: str) -> str:
    try:
        text = raw.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        raise ValidationError(
            _("The file cannot be read as %(encoding)s. Choose another encoding (Japanese Excel saves Shift_JIS).")
            % {"encoding": encoding}
        )
    return text.lstrip("\ufeff")


def sniff_delimiter(text: str) -> str:
    sample = text[: 64 * 1024]
    try:
        return csv.Sniffer().sniff(sample, delimiters=",\t;").delimiter
    except csv.Error:
        return ","


def read_rows(text: str, delimiter: str) -> list[list[str]]:
    """The non-empty rows. A file the csv module cannot parse (a cell over its 128 KB limit) is a
    ValidationError naming the row, as Excel numbers it."""
    rows = []
    number = 0
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for number, row in enumerate(reader, start=1):  # noqa: B007 - the number is the row that failed
            if any(c.strip() for c in row):
                rows.append(row)
    except csv.Error as error:
        if "field larger than field limit" in str(error):
            message = _("Row %(row)s has a cell larger than 128 KB. Shorten it or remove the column.")
        else:
            message = _("Row %(row)s cannot be read as CSV. Check its quotes.")
        raise ValidationError(message % {"row": f"{number + 1:,}"})
    return rows


def looks_like_utf16(raw: bytes) -> bool:
    """UTF-16 (Excel's “Unicode text”): a byte-order mark, or every other byte of the start zero."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    sample = raw[:4096]
    return len(sample) >= 8 and sample.count(0) >= len(sample) // 4


def suggest_mapping(header: list[str], custom_fields: list) -> list[str]:
    """A target per column from its header text ('' = ignore); each target at most once."""
    aliases = {alias: target for target, names in HEADER_ALIASES.items() for alias in names}
    for definition in custom_fields:
        aliases[_header_key(definition.label)] = f"custom.{definition.key}"
        aliases[_header_key(definition.key)] = f"custom.{definition.key}"
    used: set[str] = set()
    mapping = []
    for column in header:
        target = aliases.get(_header_key(column), "")
        if target in used:
            target = ""
        used.add(target)
        mapping.append(target)
    return mapping


def target_choices(custom_fields: list) -> list[tuple[str, str]]:
    return (
        [("", _("— do not import —"))]
        + [(key, str(label)) for key, label in TARGETS]
        + [(f"custom.{d.key}", f"{d.label}") for d in custom_fields]
    )


# --- one row -------------------------------------------------------------------------------------


@dataclass
class RowResult:
    number: int  # line number as Excel shows it (the header is 1)
    cells: list[str]
    cleaned: dict | None
    errors: dict[int, str]  # column index -> message (-1: the row as a whole)


def validate_row(number: int, cells: list[str], mapping: list[str], context: LeadFieldContext) -> RowResult:
    raw: dict[str, Any] = {}
    column_of: dict[str, int] = {}
    custom: dict[str, tuple[int, str]] = {}
    first = last = ""
    for index, target in enumerate(mapping):
        if not target or index >= len(cells):
            continue
        value = cells[index].strip()
        if target.startswith("custom."):
            if value:
                custom[target.removeprefix("custom.")] = (index, value)
            continue
        column_of[target] = index
        if not value:
            continue  # an empty cell leaves the stored value as it is
        if target == "first_name":
            first = value
        elif target == "last_name":
            last = value
        else:
            raw[target] = value
    if (first or last) and "name" not in raw:
        raw["name"] = f"{last} {first}".strip()
        column_of.setdefault("name", column_of.get("last_name", column_of.get("first_name", -1)))
    errors: dict[int, str] = {}
    cleaned: dict[str, Any] | None = None
    try:
        cleaned = clean_lead_fields(raw, context=context, partial=True)
    except ValidationError as error:
        for field_name, messages in error.message_dict.items():
            errors[column_of.get(field_name, -1)] = " ".join(messages)
    if "email" not in raw and "email" not in errors:
        errors[column_of.get("email", -1)] = _("Enter an email address.")
    values = {}
    for key, (index, value) in custom.items():
        definition = context.custom_fields.get(key)
        if definition is None:
            continue
        try:
            values[key] = clean_custom_value(definition, value)
        except ValidationError as error:
            errors[index] = error.messages[0]
    if errors:
        return RowResult(number, cells, None, errors)
    if values and cleaned is not None:
        cleaned["custom_fields"] = values
    return RowResult(number, cells, cleaned, {})


def preview(job: ImportJob, *, mapping: list[str], encoding: str, limit: int = PREVIEW_ROWS) -> dict:
    """The header and the first rows with their per-cell errors, for the mapping step."""
    text = decode(bytes(job.raw), encoding)
    delimiter = sniff_delimiter(text)
    rows = read_rows(text, delimiter)
    header, body = (rows[0], rows[1:]) if rows else ([], [])
    context = LeadFieldContext.load()
    results = [validate_row(i + 2, cells, mapping, context) for i, cells in enumerate(body[:limit])]
    return {"header": header, "rows": results, "row_count": len(body), "delimiter": delimiter}


# --- services -----------------------------------------------------------------------------------


def import_create(*, uploaded, encoding: str = "auto", actor=None) -> ImportJob:
    """Store an uploaded CSV (not imported yet): detect encoding and delimiter, suggest a mapping."""
    from . import selectors

    if uploaded is None:
        raise ValidationError({"file": [_("Choose a CSV file.")]})
    if uploaded.size > MAX_UPLOAD_BYTES:
        raise ValidationError({"file": [_("The file is larger than 50 MB. Split it into smaller files.")]})
    raw = uploaded.read()
    if not raw.strip():
        raise ValidationError({"file": [_("The file is empty.")]})
    if looks_like_utf16(raw):
        raise ValidationError(
            {
                "file": [
                    _(
                        "The file is saved as UTF-16 (Excel's “Unicode text”). Save it as “CSV UTF-8” or "
                        "“CSV (comma delimited)” and upload it again."
                    )
                ]
            }
        )
    detected = detect_encoding(raw)
    chosen = detected if encoding == "auto" else encoding
    if chosen not in dict(ENCODING_CHOICES):
        chosen = detected
    try:
        text = decode(raw, chosen)
    except ValidationError as error:
        raise ValidationError({"encoding": error.messages})
    delimiter = sniff_delimiter(text)
    try:
        rows = read_rows(text, delimiter)
    except ValidationError as error:
        raise ValidationError({"file": error.messages})
    if len(rows) < 2:
        raise ValidationError({"file": [_("The file has no data rows under the header row.")]})
    if any(unstorable(cell) for cell in rows[0]):
        raise ValidationError({"file": [_("The header row contains a NUL character. Save the file again as CSV.")]})
    if len(rows) - 1 > MAX_ROWS:
        raise ValidationError(
            {
                "file": [
                    _("The file has more than %(max)s rows. Split it into smaller files.") % {"max": f"{MAX_ROWS:,}"}
                ]
            }
        )
    header = [cell.strip() for cell in rows[0]]
    job = ImportJob.objects.create(
        file_name=storable_text(getattr(uploaded, "name", ""))[:255] or "upload.csv",
        raw=raw,
        size=len(raw),
        encoding=chosen,
        encoding_detected=detected,
        delimiter=delimiter,
        header=header,
        row_count=len(rows) - 1,
        mapping=suggest_mapping(header, selectors.custom_field_definitions()),
        language=translation.get_language() or "ja",
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    return job


def import_set_mapping(*, job: ImportJob, mapping: list[str], encoding: str) -> ImportJob:
    """Check and keep the column mapping (and encoding) chosen in the mapping step."""
    from . import selectors

    if job.status != ImportStatus.UPLOADED:
        raise ValidationError(_("This import has already started."))
    valid_targets = {key for key, _label in target_choices(selectors.custom_field_definitions())}
    errors = []
    if len(mapping) != len(job.header) or any(target not in valid_targets for target in mapping):
        errors.append(_("Choose a field (or “do not import”) for every column."))
    chosen = [target for target in mapping if target]
    duplicates = sorted({target for target in chosen if chosen.count(target) > 1})
    if duplicates:
        labels = dict(target_choices(selectors.custom_field_definitions()))
        errors.append(
            _("Each field can be chosen for one column only: %(fields)s.")
            % {"fields": ", ".join(labels.get(d, d) for d in duplicates)}
        )
    if "email" not in chosen:
        errors.append(_("Choose the column that holds the email address."))
    if encoding not in dict(ENCODING_CHOICES) or encoding == "auto":
        encoding = job.encoding
    try:
        text = decode(bytes(job.raw), encoding)
        delimiter = sniff_delimiter(text)
        read_rows(text, delimiter)  # another encoding may read differently: it must still parse
    except ValidationError as error:
        errors.extend(error.messages)
    if errors:
        raise ValidationError(errors)
    job.mapping, job.encoding = mapping, encoding
    job.delimiter = delimiter
    job.save(update_fields=["mapping", "encoding", "delimiter"])
    return job


def import_start(*, job: ImportJob, actor=None) -> ImportJob:
    """Queue the import task (after commit)."""
    from tenants.tasking import enqueue_on_commit

    from .tasks import csv_import_task

    if job.status != ImportStatus.UPLOADED:
        raise ValidationError(_("This import has already started."))
    job.status, job.heartbeat_at = ImportStatus.QUEUED, timezone.now()
    job.save(update_fields=["status", "heartbeat_at"])
    audit_record(
        action="leads.import_started",
        actor=actor if getattr(actor, "pk", None) else None,
        target=job.file_name,
        data={"job": job.pk, "rows": job.row_count},
    )
    _progress_set(job.pk, "queued", 0, job.row_count)
    enqueue_on_commit(csv_import_task, require_tenant_id(), job.pk)
    return job


def import_retry(*, job: ImportJob, actor=None) -> ImportJob:
    """Queue a failed import again (the retry button): nothing of a failed import was written."""
    from tenants.tasking import enqueue_on_commit

    from .tasks import csv_import_task

    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        if job.status != ImportStatus.FAILED:
            raise ValidationError(_("Only a failed import can be retried."))
        job.status, job.heartbeat_at, job.recoveries = ImportStatus.QUEUED, timezone.now(), 0
        job.failure, job.finished_at = "", None
        job.save(update_fields=["status", "heartbeat_at", "recoveries", "failure", "finished_at"])
        audit_record(
            action="leads.import_retried",
            actor=actor if getattr(actor, "pk", None) else None,
            target=job.file_name,
            data={"job": job.pk},
        )
        _progress_set(job.pk, "queued", 0, job.row_count)
        enqueue_on_commit(csv_import_task, require_tenant_id(), job.pk)
    return job


# An import queued or running whose heartbeat is older than this, and whose row no worker holds (the
# write holds it), is stale: its worker was killed or Redis lost its task. It is queued again (it starts
# over; nothing of it was written) up to MAX_RECOVERIES times, then marked failed with a retry button.
STALE_AFTER = timedelta(minutes=5)
MAX_RECOVERIES = 3


def imports_recover_stale() -> dict[str, int]:
    """Resume or fail the tenant's stale imports (the beat runs this every two minutes)."""
    from tenants.tasking import enqueue_on_commit

    from .tasks import csv_import_task

    now = timezone.now()
    outcome = {"resumed": 0, "failed": 0}
    with transaction.atomic():
        activate_in_transaction()
        stale = list(
            ImportJob.objects.select_for_update(skip_locked=True)
            .filter(status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING], heartbeat_at__lt=now - STALE_AFTER)
            .order_by("pk")
            .only("pk", "recoveries", "language")
        )
        for job in stale:
            if job.recoveries >= MAX_RECOVERIES:
                with translation.override(job.language):
                    failure = _("The import stopped responding and was given up; nothing was imported.")
                ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.FAILED, finished_at=now, failure=failure)
                outcome["failed"] += 1
            else:
                ImportJob.objects.filter(pk=job.pk).update(recoveries=job.recoveries + 1, heartbeat_at=now)
                enqueue_on_commit(csv_import_task, require_tenant_id(), job.pk)
                outcome["resumed"] += 1
    return outcome


# --- the task -----------------------------------------------------------------------------------


def _progress_key(job_id: int) -> str:
    return f"ondo:leads:import:{require_tenant_id()}:{job_id}"


def _progress_set(job_id: int, phase: str, done: int, total: int) -> None:
    try:
        cache.set(_progress_key(job_id), {"phase": phase, "done": done, "total": total}, timeout=3600)
    except Exception:  # progress is cosmetic: a cache outage never fails the import
        logger.warning("import progress not stored", exc_info=True)


def progress(job: ImportJob) -> dict:
    """{'percent', 'phase', 'done', 'total'} of a running import (validation 0–40 %, writing 40–100 %)."""
    if job.status == ImportStatus.DONE:
        return {"percent": 100, "phase": "done", "done": job.row_count, "total": job.row_count}
    try:
        state = cache.get(_progress_key(job.pk)) or {}
    except Exception:
        state = {}
    phase, done, total = state.get("phase", "queued"), state.get("done", 0), state.get("total", 0) or 1
    share = done / total
    percent = int(40 * share) if phase == "validating" else int(40 + 60 * share) if phase == "writing" else 0
    return {"percent": min(percent, 99), "phase": phase, "done": done, "total": total}


def _save_running_job(job: ImportJob, fields: list[str]) -> None:
    """Write these fields unless another delivery of the task has finished the job meanwhile."""
    with transaction.atomic():
        activate_in_transaction()
        ImportJob.objects.filter(pk=job.pk, status=ImportStatus.RUNNING).update(
            **{name: getattr(job, name) for name in fields}
        )


def run_import(job_id: int) -> None:
    """The import task (runs in tenant_scope(atomic=False)): validate every row, then write all valid
    rows in ONE transaction. Any failure leaves the leads exactly as they were.

    Re-delivery: a job found 'running' is one whose worker died mid-task (the broker re-delivers an
    unacknowledged task); its write never committed, so it starts over. Deliveries that overlap are
    serialised at the write (`_run` locks the job row first and writes only a job still running),
    so every row is imported once."""
    with transaction.atomic():
        activate_in_transaction()
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if job.is_finished:
            return  # a duplicate delivery of the task: already done
        if job.status == ImportStatus.RUNNING:
            logger.warning("CSV import %s was interrupted (worker lost): running it again", job_id)
        job.status, job.started_at = ImportStatus.RUNNING, timezone.now()
        job.heartbeat_at = job.started_at
        job.save(update_fields=["status", "started_at", "heartbeat_at"])
    try:
        with translation.override(job.language):
            _run(job)
    except Exception as error:
        logger.exception("CSV import %s failed", job_id)
        job.status, job.finished_at = ImportStatus.FAILED, timezone.now()
        with translation.override(job.language):
            job.failure = _("The import stopped because of an unexpected error; nothing was imported. (%(error)s)") % {
                "error": type(error).__name__
            }
        _save_running_job(job, ["status", "finished_at", "failure"])


def _heartbeat(job_id: int) -> None:
    with transaction.atomic():
        activate_in_transaction()
        ImportJob.objects.filter(pk=job_id, status=ImportStatus.RUNNING).update(heartbeat_at=timezone.now())


def _run(job: ImportJob) -> None:
    with transaction.atomic():
        activate_in_transaction()
        context = LeadFieldContext.load()
    text = decode(bytes(job.raw), job.encoding)
    rows = read_rows(text, job.delimiter)[1:]
    total = len(rows)
    valid: list[dict] = []
    errors: list[list] = []
    step = max(1000, total // 50)
    for offset, cells in enumerate(rows):
        result = validate_row(offset + 2, cells, job.mapping, context)
        if result.cleaned is None:
            # Stored as JSON: a NUL echoed from a cell into a message would fail the whole import.
            errors.extend(
                [result.number, column, storable_text(message) or _("Invalid value.")]
                for column, message in sorted(result.errors.items())
            )
        else:
            valid.append(result.cleaned)
        if offset % step == 0:
            _progress_set(job.pk, "validating", offset, total)
            _heartbeat(job.pk)
    _progress_set(job.pk, "writing", 0, len(valid))

    with transaction.atomic():
        activate_in_transaction()
        # The job row first: an overlapping delivery waits here, then finds the job done and writes nothing.
        if (
            ImportJob.objects.select_for_update().values_list("status", flat=True).get(pk=job.pk)
            != ImportStatus.RUNNING
        ):
            return
        outcome = upsert_leads(
            valid,
            actor=job.created_by,
            reason="csv_import",
            progress=lambda done, all_: _progress_set(job.pk, "writing", done, all_),
        )
        job.status, job.finished_at = ImportStatus.DONE, timezone.now()
        job.created_count, job.updated_count = len(outcome.created), len(outcome.updated)
        job.unchanged_count = len(outcome.unchanged)
        job.error_count = len({number for number, _column, _message in errors})
        job.duplicate_count = outcome.duplicates_flagged
        job.errors = errors[:50_000]
        ImportJob.objects.filter(pk=job.pk).update(
            status=job.status,
            finished_at=job.finished_at,
            created_count=job.created_count,
            updated_count=job.updated_count,
            unchanged_count=job.unchanged_count,
            error_count=job.error_count,
            duplicate_count=job.duplicate_count,
            errors=job.errors,
        )
    _progress_set(job.pk, "done", total, total)


# --- the error CSV ------------------------------------------------------------------------------


def error_csv(job: ImportJob) -> bytes:
    """The rows that were not imported, as uploaded, plus their error messages (UTF-8 with BOM)."""
    by_row: dict[int, list[str]] = {}
    header = list(job.header)
    for number, column, message in job.errors:
        where = header[column] if 0 <= column < len(header) else _("row")
        by_row.setdefault(number, []).append(f"{where}: {message}")
    rows = read_rows(decode(bytes(job.raw), job.encoding), job.delimiter)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("Row"), *header, _("Errors")])
    for offset, cells in enumerate(rows[1:]):
        number = offset + 2
        if number in by_row:
            writer.writerow([number, *[escape_formula(c) for c in cells], " / ".join(by_row[number])])
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")
