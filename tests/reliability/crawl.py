"""Every tenant URL pattern, enumerated from the URLconf, with its path kwargs filled from real objects.

`tenant_patterns()` walks `get_resolver().url_patterns` recursively and returns every pattern under
`/t/<slug>/` and `/api/v1/`, so a view added by anyone is crawled by the isolation, CSRF and
malformed-input tests without being listed anywhere. Path kwargs are filled by name:

- `slug` (the tenant's) -> the tenant slug; `format` -> "json";
- `pk`/`id` -> the model named by the path segment before it (`leads/<pk>/` -> Lead);
- `<name>_id`/`<name>_pk` -> the model whose name is/ends with <name> (preferring the URL's app and
  the path's segments: `calibration/<run_id>/` -> CalibrationRun);
- anything else, or anything ambiguous: KWARG_FILLERS below.

A kwarg that cannot be filled makes the tests FAIL with the line to add to KWARG_FILLERS, so no
view is silently skipped.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver, reverse

# (url name glob, kwarg) -> "app_label.Model" (its pk), "app_label.Model.field" (that field's value),
# or a callable(world, side) -> value. Platform models (same row for both tenants) are allowed.
KWARG_FILLERS: dict[tuple[str, str], object] = {
    # Checked in order: put specific globs before general ones.
    ("mql:mql_*", "version"): "mql.MqlDefinition.version",
    ("mql:mql_reevaluation", "run_id"): "mql.ReevaluationRun",
    ("mql:calibration_*", "run_id"): "mql.CalibrationRun",
    ("scoring:rule_*", "kind"): lambda world, side: "behaviour",
    ("scoring:rule_*", "pk"): lambda world, side: _draft_rule(world, side, "BehaviourRule"),
    ("api-scoring-behaviour-rule", "pk"): lambda world, side: _draft_rule(world, side, "BehaviourRule"),
    ("api-scoring-fit-rule", "pk"): lambda world, side: _draft_rule(world, side, "FitRule"),
    ("diagnostics:*", "pk"): "diagnostics.Assessment",
    ("diagnostics:answer_save", "item_id"): lambda world, side: _checklist_item_of_assessment(world, side),
    ("diagnostics:history", "template_key"): lambda world, side: _assessment(world, side).template.key,
    ("leads:field", "name"): lambda world, side: ["name", "email", "company", f"cf_{_custom_field(world, side).key}"],
    # A list: one URL per value (every CSV export table).
    ("kpis:export", "table"): lambda world, side: sorted(__import__("kpis.exports").exports.TABLES),
}


def _assessment(world, side):
    return world.object_of(apps.get_model("diagnostics.Assessment"), side)


def _draft_rule(world, side, model_name):
    """A rule of the side's draft scoring model (the draft endpoints address only those)."""
    from tenants.context import tenant_scope

    model = apps.get_model("scoring", model_name)
    with tenant_scope(world.tenant(side).id):
        rule = model.objects.filter(model__status="draft").order_by("pk").first()
    return (rule or world.object_of(model, side)).pk


def _custom_field(world, side):
    return world.object_of(apps.get_model("leads.CustomFieldDefinition"), side)


def _checklist_item_of_assessment(world, side):
    item_model = apps.get_model("diagnostics.ChecklistItem")
    return item_model.objects.filter(template=_assessment(world, side).template).order_by("pk").first().pk


TENANT_PREFIX = "t/<slug:slug>/"
API_PREFIX = "api/v1/"


@dataclass
class Pattern:
    route: str  # the joined route strings, for messages
    name: str  # namespaced name for reverse()
    kwargs: list[str]
    callback: object = None
    segments: list[str] = field(default_factory=list)  # literal path segments, in order

    @property
    def is_api(self) -> bool:
        return self.route.startswith(API_PREFIX)

    @property
    def app_label(self) -> str | None:
        if ":" in self.name:
            return self.name.split(":", 1)[0]
        callback = self.callback
        module = getattr(callback, "__module__", "") or ""
        if hasattr(callback, "cls"):
            module = callback.cls.__module__
        for config in apps.get_app_configs():
            if module.startswith(config.name + "."):
                return config.label
        return None

    @property
    def object_kwargs(self) -> list[str]:
        return [kwarg for kwarg in self.kwargs if kwarg != "slug" and kwarg != "format"]

    def __str__(self) -> str:
        return f"{self.name} ({self.route})"


def _route_kwargs(pattern) -> list[str]:
    regex = pattern.pattern.regex
    return list(regex.groupindex)


def _walk(patterns, prefix="", namespace=None):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            yield prefix + str(entry.pattern), name, entry


def tenant_patterns() -> list[Pattern]:
    found = []
    seen = set()
    for route, name, entry in _walk(get_resolver().url_patterns):
        if not (route.startswith(TENANT_PREFIX) or route.startswith(API_PREFIX)):
            continue
        if not name:
            raise AssertionError(f"URL pattern {route!r} has no name: name it so it can be tested and reversed.")
        kwargs = _kwargs_of(route)
        key = (name, tuple(kwargs))
        if key in seen:
            continue
        seen.add(key)
        segments = [s for s in re.split(r"[/^$]", re.sub(r"<[^>]+>|\(\?P<[^>]+>[^)]*\)", "", route)) if s]
        found.append(Pattern(route, name, kwargs, entry.callback, segments))
    return found


def _kwargs_of(route: str) -> list[str]:
    names = re.findall(r"<(?:[^>:]+:)?([^>]+)>", route)
    names += re.findall(r"\(\?P<([^>]+)>", route)
    out = []
    for name in names:
        if name not in out:
            out.append(name)
    return out


def _singular(word: str) -> str:
    word = word.lower().replace("-", "").replace("_", "")
    for suffix, replacement in (("ies", "y"), ("sses", "ss"), ("ses", "s"), ("s", "")):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            return word[: -len(suffix)] + replacement
    return word


class UnfillableKwarg(AssertionError):
    pass


def _candidate_models():
    from tenants.models import Invitation, Membership, Notification, TenantAPIKey

    from .objects import existing_tenant_owned_models

    return list(dict.fromkeys([*existing_tenant_owned_models(), Membership, TenantAPIKey, Invitation, Notification]))


def model_for_kwarg(pattern: Pattern, kwarg: str):
    """The model a path kwarg names, or a filler spec from KWARG_FILLERS; raises UnfillableKwarg."""
    for (glob, name), spec in KWARG_FILLERS.items():
        if name == kwarg and fnmatch.fnmatch(pattern.name, glob):
            return spec
    models = _candidate_models()
    if kwarg in ("pk", "id"):
        before = _segment_before(pattern, kwarg)
        stem = _singular(before) if before else ""
        candidates = (
            [m for m in models if stem and m.__name__.lower() == stem]
            or [m for m in models if stem and m.__name__.lower().endswith(stem)]
            or [m for m in models if stem and m.__name__.lower().startswith(stem)]
        )
    elif kwarg.endswith(("_id", "_pk")):
        stem = kwarg[:-3].replace("_", "").lower()
        candidates = [m for m in models if m.__name__.lower() == stem] or [
            m for m in models if m.__name__.lower().endswith(stem)
        ]
    else:  # a field of a model, e.g. `v<int:version>/` -> ScoringModel.version
        with_field = [m for m in models if kwarg in {f.name for f in m._meta.concrete_fields}]
        in_app = [m for m in with_field if m._meta.app_label == pattern.app_label]
        if len(in_app or with_field) == 1:
            model = (in_app or with_field)[0]
            return f"{model._meta.app_label}.{model.__name__}.{kwarg}"
        candidates = in_app or with_field
    if len(candidates) > 1 and pattern.app_label:
        in_app = [m for m in candidates if m._meta.app_label == pattern.app_label]
        candidates = in_app or candidates
    if len(candidates) > 1:
        stems = {_singular(s)[:5] for s in pattern.segments}
        named = [m for m in candidates if any(s and s in m.__name__.lower() for s in stems)]
        candidates = named or candidates
    if len(candidates) == 1:
        return f"{candidates[0]._meta.app_label}.{candidates[0].__name__}"
    found = ", ".join(f"{m._meta.app_label}.{m.__name__}" for m in candidates) or "none"
    raise UnfillableKwarg(
        f"Cannot fill URL kwarg {kwarg!r} of {pattern} (candidates: {found}). Register it in "
        f'tests/reliability/crawl.py KWARG_FILLERS, e.g. ({pattern.name!r}, {kwarg!r}): "app_label.Model".'
    )


def _segment_before(pattern: Pattern, kwarg: str) -> str | None:
    route = pattern.route
    index = route.find(f"(?P<{kwarg}>")
    if index < 0:
        index = route.find(f":{kwarg}>")
        index = route.rfind("<", 0, index) if index >= 0 else index
    if index < 0:
        index = route.find(f"<{kwarg}>")
    head = route[:index]
    literal = [s for s in re.split(r"[/^$]", re.sub(r"<[^>]+>|\(\?P<[^>]+>[^)]*\)", "/", head)) if s]
    return literal[-1] if literal else None


def kwarg_value(spec, world, side: str):
    """The value for one side ('a' or 'b') of the world."""
    if callable(spec):
        return spec(world, side)
    parts = spec.split(".")
    label, attr = ".".join(parts[:2]), (parts[2] if len(parts) > 2 else None)
    model = apps.get_model(label)
    obj = world.object_of(model, side)
    if obj is None:
        raise UnfillableKwarg(f"No {label} object for side {side}: extend tests/reliability/objects.py.")
    return getattr(obj, attr) if attr else obj.pk


def build_urls(pattern: Pattern, world, *, slug_side: str, object_side: str) -> list[str]:
    """The pattern's URL(s) for one side; a filler returning a list gives one URL per value."""
    kwargs: dict = {}
    for kwarg in pattern.kwargs:
        if kwarg == "slug" and pattern.route.startswith(TENANT_PREFIX) and "slug" not in kwargs:
            kwargs["slug"] = world.tenant(slug_side).slug
        elif kwarg == "format":
            kwargs["format"] = "json"
        else:
            kwargs[kwarg] = kwarg_value(model_for_kwarg(pattern, kwarg), world, object_side)
    combos = [{}]
    for key, value in kwargs.items():
        values = value if isinstance(value, list | tuple) else [value]
        combos = [{**combo, key: v} for combo in combos for v in values]
    return [reverse(pattern.name, kwargs=combo) for combo in combos]


def build_url(pattern: Pattern, world, *, slug_side: str, object_side: str) -> str:
    return build_urls(pattern, world, slug_side=slug_side, object_side=object_side)[0]


# --- forms on pages, to post plausible data ---------------------------------------------------------


class FormHarvester(HTMLParser):
    """Collects <form> fields (and htmx hx-post/hx-put/... elements) of a page: action -> data."""

    def __init__(self, page_url: str):
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[tuple[str, str, dict]] = []  # (method, action, data)
        self._stack: list[tuple[str, str, dict]] = []
        self._select: str | None = None
        self._select_value_set = False
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        hx = next(((m, attrs[f"hx-{m}"]) for m in ("post", "put", "patch", "delete") if attrs.get(f"hx-{m}")), None)
        if tag == "form":
            method = (attrs.get("method") or "get").lower()
            action = attrs.get("action") or self.page_url
            if hx:
                method, action = hx
            self._stack.append((method, action, {}))
        elif hx and tag != "form":
            data = {}
            if attrs.get("name"):
                data[attrs["name"]] = attrs.get("value", "")
            self.forms.append((hx[0], hx[1], data))
        if not self._stack:
            return
        data = self._stack[-1][2]
        name = attrs.get("name")
        if tag == "input" and name:
            kind = (attrs.get("type") or "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in attrs or name not in data:
                    data[name] = attrs.get("value", "on")
            elif kind not in ("submit", "button", "image", "file", "reset"):
                data.setdefault(name, attrs.get("value", ""))
        elif tag == "select" and name:
            self._select, self._select_value_set = name, False
        elif tag == "option" and self._select:
            value = attrs.get("value", "")
            if not self._select_value_set and value or "selected" in attrs:
                data[self._select] = value
                self._select_value_set = True
        elif tag == "textarea" and name:
            self._textarea = name
            data.setdefault(name, "")

    def handle_data(self, data):
        if self._textarea and self._stack:
            self._stack[-1][2][self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form" and self._stack:
            self.forms.append(self._stack.pop())


def harvest_forms(html: str, page_url: str) -> list[tuple[str, str, dict]]:
    parser = FormHarvester(page_url)
    try:
        parser.feed(html)
    except Exception:  # a broken page is reported by the crawl itself
        return []
    return parser.forms
