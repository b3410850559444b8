"""The shop's business rules as typed settings, loaded from one YAML file.

Nothing in the code knows a window, a fee or an opening hour: they all come from the
file named by ``SHOP_POLICY_FILE`` (``demo_shop/policy.yml`` by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any

import yaml


class PolicyError(ValueError):
    """The policy file is missing, unreadable or lacks a required setting."""


@dataclass(frozen=True)
class DeliveryOption:
    min_business_days: int
    max_business_days: int
    fee: float
    free_from: float | None = None
    same_day_cutoff: time | None = None


@dataclass(frozen=True)
class AgentHours:
    days: frozenset[int]  # ISO weekdays, 1 = Monday
    open: time
    close: time


@dataclass(frozen=True)
class Policy:
    shop_name: str
    currency: str
    timezone: str
    holiday_country: str
    holiday_subdivision: str | None
    order_id_prefix: str
    order_id_digits: int
    cancellable_statuses: frozenset[str]
    address_changeable_statuses: frozenset[str]
    lookup_max_failures: int
    bank_transfer_deadline_days: int
    delivery: dict[str, DeliveryOption]
    lost_after_business_days: int
    carriers: dict[str, dict[str, str]]
    return_window_days: int
    rma_prefix: str
    rma_digits: int
    return_drop_off_days: int
    refund_business_days: int
    return_shipping_fee: float
    free_return_reasons: frozenset[str]
    non_returnable_categories: frozenset[str]
    warranty_months: dict[str, int]
    battery_defect_below_percent: int
    dead_on_arrival_days: int
    dead_on_arrival_categories: frozenset[str]
    care_applies_to: frozenset[str]
    care_purchase_window_days: int
    claim_prefix: str
    claim_digits: int
    repair_usual_days_min: int
    repair_usual_days_max: int
    repair_max_days: int
    instalments_min_order: float
    instalments_months: int
    agent_hours: tuple[AgentHours, ...]
    support_phone: str
    support_email: str
    email_answer_hours: int
    pickup_target_minutes: int
    transcript_retention_months: int

    def carrier_name(self, code: str | None, language: str = "en") -> str:
        names = self.carriers.get(code or "") or {}
        return names.get(language) or names.get("en") or code or ""


def _time(value: Any, key: str) -> time:
    try:
        hours, minutes = str(value).split(":")
        return time(int(hours), int(minutes))
    except ValueError as exc:
        raise PolicyError(f"policy setting {key} must look like HH:MM, got {value!r}") from exc


def load_policy(path: str | Path) -> Policy:
    """Read and check the policy file; raise PolicyError naming what is wrong."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PolicyError(f"policy file {path} not found (setting SHOP_POLICY_FILE)") from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"policy file {path} is not valid YAML: {exc}") from exc
    try:
        return _parse(raw)
    except KeyError as exc:
        raise PolicyError(f"policy file {path} lacks the setting {exc.args[0]!r}") from exc


def _parse(raw: dict[str, Any]) -> Policy:
    orders, delivery, returns = raw["orders"], raw["delivery"], raw["returns"]
    warranty, support, payment = raw["warranty"], raw["support"], raw["payment"]
    options = {}
    for name in ("standard", "express"):
        opt = delivery[name]
        cutoff = opt.get("same_day_cutoff")
        options[name] = DeliveryOption(
            min_business_days=int(opt["min_business_days"]),
            max_business_days=int(opt["max_business_days"]),
            fee=float(opt["fee"]),
            free_from=float(opt["free_from"]) if opt.get("free_from") is not None else None,
            same_day_cutoff=_time(cutoff, f"delivery.{name}.same_day_cutoff") if cutoff else None,
        )
    hours = tuple(
        AgentHours(
            days=frozenset(int(d) for d in block["days"]),
            open=_time(block["open"], "support.agent_hours.open"),
            close=_time(block["close"], "support.agent_hours.close"),
        )
        for block in support["agent_hours"]
    )
    holidays = raw.get("public_holidays") or {}
    return Policy(
        shop_name=raw["shop_name"],
        currency=raw["currency"],
        timezone=raw["timezone"],
        holiday_country=holidays.get("country", ""),
        holiday_subdivision=holidays.get("subdivision"),
        order_id_prefix=orders["id_prefix"],
        order_id_digits=int(orders["id_digits"]),
        cancellable_statuses=frozenset(orders["cancellable_statuses"]),
        address_changeable_statuses=frozenset(orders["address_changeable_statuses"]),
        lookup_max_failures=int(orders["lookup_max_failures"]),
        bank_transfer_deadline_days=int(orders["bank_transfer_deadline_days"]),
        delivery=options,
        lost_after_business_days=int(delivery["lost_after_business_days"]),
        carriers={
            code: ({"en": names} if isinstance(names, str) else dict(names))
            for code, names in raw["carriers"].items()
        },
        return_window_days=int(returns["window_days"]),
        rma_prefix=returns["rma_prefix"],
        rma_digits=int(returns["rma_digits"]),
        return_drop_off_days=int(returns["drop_off_days"]),
        refund_business_days=int(returns["refund_business_days"]),
        return_shipping_fee=float(returns["return_shipping_fee"]),
        free_return_reasons=frozenset(returns["free_reasons"]),
        non_returnable_categories=frozenset(returns["non_returnable_categories"]),
        warranty_months={k: int(v) for k, v in warranty["months_by_category"].items()},
        battery_defect_below_percent=int(warranty["battery_defect_below_percent"]),
        dead_on_arrival_days=int(warranty["dead_on_arrival_days"]),
        dead_on_arrival_categories=frozenset(warranty["dead_on_arrival_categories"]),
        care_applies_to=frozenset(warranty["care_applies_to"]),
        care_purchase_window_days=int(warranty["care_purchase_window_days"]),
        claim_prefix=warranty["claim_prefix"],
        claim_digits=int(warranty["claim_digits"]),
        repair_usual_days_min=int(warranty["repair_usual_days_min"]),
        repair_usual_days_max=int(warranty["repair_usual_days_max"]),
        repair_max_days=int(warranty["repair_max_days"]),
        instalments_min_order=float(payment["instalments_min_order"]),
        instalments_months=int(payment["instalments_months"]),
        agent_hours=hours,
        support_phone=support["phone"],
        support_email=support["email"],
        email_answer_hours=int(support["email_answer_hours"]),
        pickup_target_minutes=int(support["pickup_target_minutes"]),
        transcript_retention_months=int(support["transcript_retention_months"]),
    )
