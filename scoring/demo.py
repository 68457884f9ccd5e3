"""Demo data for scoring: the seed sheet as the active model, a draft that adds first-class BANT
rules (to show the editor's impact preview), and every demo lead scored."""

from __future__ import annotations

import time

from . import engine, services


def build_demo(*, tenant, lead_count: int, stdout) -> None:
    started = time.monotonic()
    services.install_default_model()
    services.settings_get()
    run = engine.run_create()
    if run is not None:
        run = engine.run_execute(run.pk)
    draft = services.draft_get_or_create()
    draft.name = "BANT を加えた案"
    draft.save(update_fields=["name"])
    services.fit_rule_save(
        model=draft,
        data={
            "label": "予算:確保済み",
            "description": "予算が確保されている",
            "note": "商談化しやすい",
            "field": "budget",
            "operator": "equals",
            "values": ["secured"],
            "points": 20,
            "group": "予算",
        },
    )
    services.fit_rule_save(
        model=draft,
        data={
            "label": "導入時期:3か月以内",
            "description": "3か月以内に導入予定",
            "note": "",
            "field": "timing",
            "operator": "equals",
            "values": ["within_3m"],
            "points": 15,
            "group": "導入時期",
        },
    )
    services.fit_rule_save(
        model=draft,
        data={
            "label": "決裁権:あり",
            "description": "決裁者本人",
            "note": "",
            "field": "authority",
            "operator": "equals",
            "values": ["decision_maker"],
            "points": 15,
            "group": "決裁権",
        },
    )
    stdout.write(
        f"scoring: model v{engine.active_model().version} active, {run.leads_total if run else 0} leads scored, "
        f"draft v{draft.version} with BANT rules ({time.monotonic() - started:.1f} s)"
    )
