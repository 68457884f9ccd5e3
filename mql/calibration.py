"""Calibration: point values from the tenant's own won/lost (or SQL accepted/rejected) history.

1. Labels: leads with a known outcome (target chosen by the tenant).
2. Rule model: a regularised (L2) logistic regression over the scoring model's rule features;
   its coefficients become proposed points on the model's scale (scaled so that the MQL
   threshold keeps letting through the same share of leads), with each rule's lift and a
   confidence note when data is thin. Current vs proposed are compared on a held-out split
   (AUC, precision and recall at the MQL threshold).
3. Data-driven model: the same regression on the lead's attributes and activity counts,
   not limited to the rules — its held-out AUC shows what the rules leave on the table.

Runs as a Celery task (`tasks.run_calibration`) recording progress on the `CalibrationRun`.
The proposal is only ever copied into a *draft* scoring model; publishing stays a human step.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.models import FeedbackOutcome, Lead, LeadFeedback
from tenants.context import activate_in_transaction
from tenants.models import User
from tenants.services import audit_record
from tenants.tasking import enqueue_on_commit

from . import features
from .models import (
    DEFAULT_FREE_MAIL_DOMAINS,
    CalibrationRun,
    CalibrationTarget,
    DefinitionStatus,
    MqlDefinition,
    RunStatus,
)

logger = logging.getLogger("ondo.mql")

RANDOM_STATE = 42
TEST_SIZE = 0.25
MIN_LABELLED = 40
MIN_PER_CLASS = 10
THIN_LABELLED = 500
THIN_PER_CLASS = 50
THIN_RULE_FIRES = 30
DEFAULT_THRESHOLD = 80
WEAK_AUC = 0.6


# ----------------------------------------------------------------------------- labels


def labelled_leads(target: str) -> tuple[list[int], np.ndarray]:
    """Lead ids with a known outcome and their 0/1 label (one set-based query)."""
    feedback = LeadFeedback.objects.filter(lead_id=OuterRef("pk"))
    if target == CalibrationTarget.SQL:
        positive = Exists(
            feedback.filter(outcome__in=[FeedbackOutcome.ACCEPTED, FeedbackOutcome.OPPORTUNITY, FeedbackOutcome.WON])
        )
        negative = Exists(feedback.filter(outcome=FeedbackOutcome.REJECTED))
    else:
        positive = Exists(feedback.filter(outcome=FeedbackOutcome.WON))
        negative = Exists(feedback.filter(outcome__in=[FeedbackOutcome.LOST, FeedbackOutcome.REJECTED]))
    rows = list(
        Lead.objects.annotate(pos=positive, neg=negative)
        .filter(Q(pos=True) | Q(neg=True))
        .order_by("id")
        .values_list("id", "pos")
    )
    return [row[0] for row in rows], np.array([1 if row[1] else 0 for row in rows], dtype=int)


# ----------------------------------------------------------------------------- maths


def _auc(y: np.ndarray, score: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    if len(set(y.tolist())) < 2:
        return None
    return float(roc_auc_score(y, score))


def _precision_recall(y: np.ndarray, score: np.ndarray, threshold: float) -> dict:
    predicted = score >= threshold
    tp = int(np.sum(predicted & (y == 1)))
    fp = int(np.sum(predicted & (y == 0)))
    fn = int(np.sum(~predicted & (y == 1)))
    return {
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "selected": int(np.sum(predicted)),
        "selected_share": float(np.mean(predicted)) if len(y) else None,
    }


def split(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stratified held-out split (indices); deterministic."""
    from sklearn.model_selection import train_test_split

    indices = np.arange(len(y))
    train, test = train_test_split(indices, test_size=TEST_SIZE, random_state=RANDOM_STATE, stratify=y)
    return np.sort(train), np.sort(test)


def _scale_factor(linear_train: np.ndarray, current_train: np.ndarray, threshold: float) -> float:
    """Points per unit of log-odds so the proposal sits on the current model's scale.

    The MQL threshold should let through the same share of leads as today (so sales sees as many
    MQLs, but better ones); when that is undefined, match the spread of the current scores.
    """
    share = float(np.mean(current_train >= threshold)) if len(current_train) else 0.0
    if 0.0 < share < 1.0 and threshold > 0:
        cut = float(np.quantile(linear_train, 1.0 - share))
        if cut > 1e-9:
            return threshold / cut
    spread = float(np.std(linear_train))
    current_spread = float(np.std(current_train))
    if spread > 1e-9 and current_spread > 1e-9:
        return current_spread / spread
    return 10.0


@dataclass
class RuleFit:
    proposed_points: list[int]
    coefficients: list[float]
    auc_model: float | None
    current: dict
    proposed: dict
    lifts: list[dict]
    notes: list[str]
    n_train: int
    n_test: int


def fit_rule_model(
    x: np.ndarray, y: np.ndarray, *, current_points: list[int], threshold: float, c: float = 1.0
) -> RuleFit:
    """Regularised logistic regression over rule features → proposed points and held-out comparison."""
    from sklearn.linear_model import LogisticRegression

    points = np.array(current_points, dtype=float)
    train, test = split(y)
    notes = confidence_notes(y)
    lifts = rule_lifts(x, y)
    if x.shape[1] == 0:
        empty = {"auc": None, **_precision_recall(y[test], np.zeros(len(test)), threshold)}
        return RuleFit([], [], None, empty, empty, [], notes, len(train), len(test))
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit(x[train], y[train])
    beta = model.coef_[0]
    current_train = x[train] @ points
    factor = _scale_factor(x[train] @ beta, current_train, threshold)
    proposed = np.rint(beta * factor).astype(int)
    current_test = x[test] @ points
    proposed_test = x[test] @ proposed
    for lift, fires in zip(lifts, (x > 0).sum(axis=0), strict=True):
        if fires < THIN_RULE_FIRES:
            lift["thin"] = True
    return RuleFit(
        proposed_points=[int(v) for v in proposed],
        coefficients=[float(v) for v in beta],
        auc_model=_auc(y[test], model.predict_proba(x[test])[:, 1]),
        current={"auc": _auc(y[test], current_test), **_precision_recall(y[test], current_test, threshold)},
        proposed={"auc": _auc(y[test], proposed_test), **_precision_recall(y[test], proposed_test, threshold)},
        lifts=lifts,
        notes=notes,
        n_train=len(train),
        n_test=len(test),
    )


def rule_lifts(x: np.ndarray, y: np.ndarray) -> list[dict]:
    """Per rule: conversion when it fires vs when it does not, and the lift (ratio)."""
    result = []
    base = float(np.mean(y)) if len(y) else 0.0
    for column in range(x.shape[1]):
        fires = x[:, column] > 0
        n_fires = int(fires.sum())
        n_not = int((~fires).sum())
        rate_fires = float(y[fires].mean()) if n_fires else None
        rate_not = float(y[~fires].mean()) if n_not else None
        lift = rate_fires / rate_not if rate_fires is not None and rate_not else None
        result.append(
            {
                "fires": n_fires,
                "rate_fires": rate_fires,
                "rate_not": rate_not,
                "lift": lift,
                "base_rate": base,
                "thin": n_fires < THIN_RULE_FIRES,
            }
        )
    return result


def confidence_notes(y: np.ndarray) -> list[str]:
    notes = []
    positives = int(y.sum())
    negatives = int(len(y) - positives)
    if len(y) < THIN_LABELLED:
        notes.append(
            _("Only %(n)s leads have a known outcome: treat the proposal as a hint, not a verdict.")
            % {"n": f"{len(y):,}"}
        )
    if min(positives, negatives) < THIN_PER_CLASS:
        notes.append(
            _(
                "Few examples on one side (%(pos)s positive, %(neg)s negative): the figures can move a lot "
                "with a handful of new outcomes."
            )
            % {"pos": f"{positives:,}", "neg": f"{negatives:,}"}
        )
    return notes


def _design(attributes: features.AttributeMatrix, train: np.ndarray):
    """One-hot categoricals (rare levels pooled) + standardised numerics, fitted on train only."""
    from scipy import sparse
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    categorical = np.array(attributes.categorical, dtype=object).reshape(len(attributes.categorical), -1)
    encoder = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=10, sparse_output=True)
    scaler = StandardScaler()
    blocks_train, blocks_all = [], []
    if categorical.shape[1]:
        encoder.fit(categorical[train])
        blocks_all.append(encoder.transform(categorical))
    if attributes.numeric.shape[1]:
        scaler.fit(attributes.numeric[train])
        blocks_all.append(sparse.csr_matrix(np.nan_to_num(scaler.transform(attributes.numeric))))
    del blocks_train
    return sparse.hstack(blocks_all).tocsr() if blocks_all else sparse.csr_matrix((len(categorical), 0))


def fit_data_model(attributes: features.AttributeMatrix, y: np.ndarray, *, c: float = 1.0) -> dict:
    """Logistic regression on attributes + activity counts; held-out AUC."""
    from sklearn.linear_model import LogisticRegression

    train, test = split(y)
    design = _design(attributes, train)
    if design.shape[1] == 0:
        return {"auc": None, "n_features": 0}
    model = LogisticRegression(C=c, max_iter=3000)
    model.fit(design[train], y[train])
    return {
        "auc": _auc(y[test], model.predict_proba(design[test])[:, 1]),
        "n_features": int(design.shape[1]),
        "n_train": len(train),
        "n_test": len(test),
    }


# ----------------------------------------------------------------------------- the run


def mql_threshold(spec) -> int:
    """The MQL threshold on the score scale: the active definition's minimum score, else the top segment's."""
    definition = MqlDefinition.objects.filter(status=DefinitionStatus.ACTIVE).first()
    if definition is not None and definition.min_score is not None:
        return int(definition.min_score)
    tops = [s.min_total for s in spec.ordered_segments if s.min_total is not None] if spec is not None else []
    return int(tops[0]) if tops else DEFAULT_THRESHOLD


def calibration_start(*, actor: User | None, target: str) -> CalibrationRun:
    if target not in CalibrationTarget.values:
        raise ValidationError({"target": _("Choose what to learn from: won deals or sales acceptance.")})
    run = CalibrationRun.objects.create(target=target, created_by=actor)
    from . import tasks

    enqueue_on_commit(tasks.run_calibration, run.tenant_id, run.pk)
    return run


def _progress(run_id: int, percent: int, step: str) -> None:
    with transaction.atomic():
        activate_in_transaction()
        CalibrationRun.objects.filter(pk=run_id).update(progress=percent, step=step[:200])


def calibration_execute(*, run_id: int) -> CalibrationRun:
    """Run one calibration (inside `tenant_scope(atomic=False)`); progress is committed as it goes."""
    with transaction.atomic():
        activate_in_transaction()
        run = CalibrationRun.objects.get(pk=run_id)
        if run.status in (RunStatus.DONE, RunStatus.FAILED):
            return run
        CalibrationRun.objects.filter(pk=run_id).update(status=RunStatus.RUNNING, started_at=timezone.now())
    try:
        result = calibrate(target=run.target, progress=lambda p, s: _progress(run_id, p, s))
    except Exception as error:
        logger.exception("calibration %s failed", run_id)
        with transaction.atomic():
            activate_in_transaction()
            message = "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
            CalibrationRun.objects.filter(pk=run_id).update(
                status=RunStatus.FAILED, error=message[:2000], finished_at=timezone.now()
            )
        if isinstance(error, ValidationError):
            return CalibrationRun.objects.get(pk=run_id)
        raise
    with transaction.atomic():
        activate_in_transaction()
        CalibrationRun.objects.filter(pk=run_id).update(
            status=RunStatus.DONE,
            progress=100,
            step="",
            result=result,
            model_version=result.get("model_version"),
            finished_at=timezone.now(),
        )
        return CalibrationRun.objects.get(pk=run_id)


def calibrate(*, target: str, progress=lambda percent, step: None) -> dict:
    """The whole calibration for the active tenant; returns a JSON-able result."""
    from scoring import engine

    started = time.monotonic()
    progress(5, _("Reading outcomes"))
    with transaction.atomic():
        activate_in_transaction()
        lead_ids, y = labelled_leads(target)
        model = engine.active_model()
        spec = engine.spec_for(model) if model is not None else None
        threshold = mql_threshold(spec)
    positives = int(y.sum())
    if len(y) < MIN_LABELLED or min(positives, len(y) - positives) < MIN_PER_CLASS:
        raise ValidationError(
            _(
                "Not enough history yet: calibration needs at least %(n)s leads with a known outcome and %(k)s on each "
                "side (found %(pos)s positive and %(neg)s negative)."
            )
            % {"n": MIN_LABELLED, "k": MIN_PER_CLASS, "pos": positives, "neg": len(y) - positives}
        )
    result: dict = {
        "target": target,
        "labelled": len(y),
        "positives": positives,
        "threshold": threshold,
        "model_version": model.version if model else None,
    }
    progress(15, _("Computing rule features"))
    if spec is not None:
        with transaction.atomic():
            activate_in_transaction()
            x = features.rule_feature_matrix(spec, lead_ids, as_of=timezone.now())
        columns = features.rule_columns(spec)
        progress(45, _("Fitting the rule model"))
        fit = fit_rule_model(x, y, current_points=[col.points for col in columns], threshold=threshold)
        result["rules"] = [
            {
                "key": col.key,
                "kind": col.kind,
                "rule_id": col.rule_id,
                "label": col.label,
                "detail": col.detail,
                "current": col.points,
                "proposed": fit.proposed_points[i] if fit.proposed_points else col.points,
                "coefficient": fit.coefficients[i] if fit.coefficients else 0.0,
                **fit.lifts[i],
            }
            for i, col in enumerate(columns)
        ]
        if fit.auc_model is not None and fit.auc_model < WEAK_AUC:
            fit.notes.append(
                _(
                    "The rules barely separate won from lost leads here (held-out AUC %(auc)s): the proposed "
                    "points are unreliable. Look at the lifts and the data-driven model for better signals."
                )
                % {"auc": f"{fit.auc_model:.2f}"}
            )
        result.update(
            {
                "auc_rule_model": fit.auc_model,
                "current": fit.current,
                "proposed": fit.proposed,
                "notes": fit.notes,
                "n_train": fit.n_train,
                "n_test": fit.n_test,
            }
        )
    else:
        result.update(
            {
                "rules": [],
                "notes": confidence_notes(y) + [_("No active scoring model: only the data-driven model was fitted.")],
            }
        )
    progress(60, _("Reading attributes and activity counts"))
    with transaction.atomic():
        activate_in_transaction()
        attributes = features.attribute_matrix(lead_ids, free_mail_domains=set(DEFAULT_FREE_MAIL_DOMAINS))
    progress(80, _("Fitting the data-driven model"))
    result["data_model"] = fit_data_model(attributes, y)
    result["seconds"] = round(time.monotonic() - started, 2)
    progress(95, _("Saving the result"))
    return result


@transaction.atomic
def calibration_copy_to_draft(*, run: CalibrationRun, actor: User, rule_keys: list[str] | None = None) -> int:
    """Copy the proposed points into the scoring model's draft (scoring creates it from the active
    model when there is none) through scoring's own rule services. Never publishes.

    Rules are matched by kind and item name: the draft is a copy of the calibrated version.
    Returns the draft's version.
    """
    from scoring import services as scoring_services

    from .services import _require_capability

    _require_capability(actor, "edit_scoring")
    if run.status != RunStatus.DONE or not run.result.get("rules"):
        raise ValidationError(_("This calibration has no proposal to copy."))
    chosen = set(rule_keys) if rule_keys else None
    proposed = {
        (row["kind"], row["label"]): int(row["proposed"])
        for row in run.result["rules"]
        if chosen is None or row["key"] in chosen
    }
    if not proposed:
        raise ValidationError(_("Choose at least one rule to copy."))
    draft = scoring_services.draft_get_or_create(actor=actor)
    changed = 0
    for rule in draft.behaviour_rules.all():
        points = proposed.get(("behaviour", rule.label))
        if points is not None and points != rule.points:
            data = {f: getattr(rule, f) for f in scoring_services.BEHAVIOUR_FIELDS} | {"points": points}
            scoring_services.behaviour_rule_save(model=draft, data=data, rule=rule, actor=actor)
            changed += 1
    for rule in draft.fit_rules.all():
        points = proposed.get(("fit", rule.label))
        if points is not None and points != rule.points:
            data = {f: getattr(rule, f) for f in scoring_services.FIT_FIELDS} | {"points": points}
            scoring_services.fit_rule_save(model=draft, data=data, rule=rule, actor=actor)
            changed += 1
    note = _("Points proposed by calibration #%(run)s (%(target)s).") % {
        "run": run.pk,
        "target": run.get_target_display(),
    }
    draft.note = f"{draft.note}\n{note}".strip() if draft.note else note
    draft.save(update_fields=["note"])
    CalibrationRun.objects.filter(pk=run.pk).update(copied_to_version=draft.version)
    audit_record(
        action="mql.calibration_copied",
        actor=actor,
        target=f"scoring v{draft.version}",
        data={"run": run.pk, "rules_changed": changed},
    )
    return draft.version
