"""Generated customers for the demo bank: plausible, self-consistent and deterministic.

Profiles stream in chunks (vectorised with numpy), so a million customers never sit in
memory at once. Traits are raw JSON values as the store keeps them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

AS_OF = datetime(2026, 1, 1, tzinfo=UTC)
FIRST_NAMES = (
    "Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hannah", "Ilias", "Jana", "Klaus",
    "Lena", "Mehmet", "Nina", "Oskar", "Paula", "Quirin", "Rosa", "Stefan", "Tanja", "Uwe",
    "Vera", "Wolfgang", "Yasemin", "Zoe", "Luca", "Mia", "Noah", "Sofia", "Elif",
)  # fmt: skip
LAST_NAMES = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
    "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Yilmaz",
    "Kaya", "Nowak", "Braun", "Krüger", "Hartmann", "Lange", "Werner",
)  # fmt: skip
REGIONS = (
    "BW",
    "BY",
    "BE",
    "BB",
    "HB",
    "HH",
    "HE",
    "MV",
    "NI",
    "NW",
    "RP",
    "SL",
    "SN",
    "ST",
    "SH",
    "TH",
)
REGION_WEIGHTS = np.array([13, 16, 4, 3, 1, 2, 8, 2, 10, 22, 5, 1, 5, 3, 3, 2], dtype=float)
SEGMENTS = ("student", "mass", "affluent", "private", "senior")
SEGMENT_WEIGHTS = np.array([0.12, 0.50, 0.20, 0.05, 0.13])
AGE_RANGE = {
    "student": (18, 28),
    "mass": (22, 66),
    "affluent": (28, 66),
    "private": (35, 76),
    "senior": (65, 91),
}
MEDIAN_INCOME = {
    "student": 9_000,
    "mass": 38_000,
    "affluent": 75_000,
    "private": 180_000,
    "senior": 28_000,
}
TIMEZONES = ("Europe/Berlin",) * 18 + ("Europe/London", "America/New_York")
CHUNK = 10_000


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1 / (1 + np.exp(-x)))


def _chunk(rng: np.random.Generator, start: int, n: int) -> Iterator[tuple[str, dict[str, Any]]]:
    seg_idx = rng.choice(len(SEGMENTS), n, p=SEGMENT_WEIGHTS)
    lo = np.array([AGE_RANGE[s][0] for s in SEGMENTS])[seg_idx]
    hi = np.array([AGE_RANGE[s][1] for s in SEGMENTS])[seg_idx]
    age = rng.integers(lo, hi)
    income = np.round(
        np.array([MEDIAN_INCOME[s] for s in SEGMENTS])[seg_idx] * rng.lognormal(0, 0.35, n), -2
    )
    credit = np.clip(rng.normal(640 + 25 * np.log(income / 30_000), 70), 300, 850).round()
    in_arrears = rng.random(n) < _sigmoid((560 - credit) / 35)
    days_past_due = np.where(in_arrears, rng.integers(1, 120, n), 0)
    balance = np.round(
        rng.normal(income * 0.06, income * 0.05) - in_arrears * rng.uniform(200, 3000, n), 2
    )
    tenure = np.minimum(rng.exponential(7, n), age - 16).round(1)
    digital = rng.random(n) < _sigmoid((50 - age) / 12 + 0.8)
    login_days = rng.exponential(np.where(digital, 4, 90))
    homeowner = rng.random(n) < _sigmoid((age - 40) / 10 + np.log(income / 50_000))
    kids = np.where((age > 26) & (age < 58), rng.poisson(0.9, n), 0)
    travel = rng.poisson(np.where(seg_idx >= 2, 2.5, 0.8) * (seg_idx != 4) + 0.4)
    churn = rng.beta(2, 6, n)
    salary = rng.random(n) < 0.7
    owns = {
        "CHECKING": rng.random(n) < 0.9,
        "SAVINGS": rng.random(n) < 0.4,
        "GOLD_CARD": rng.random(n) < np.where(seg_idx >= 2, 0.3, 0.06),
        "PLATINUM_CARD": rng.random(n) < np.where(seg_idx == 3, 0.4, 0.0),
        "STUDENT_CARD": rng.random(n) < np.where(seg_idx == 0, 0.25, 0.0),
        "CASHBACK_CARD": rng.random(n) < 0.1,
        "TRAVEL_CARD": rng.random(n) < 0.05 * (1 + travel),
        "PERSONAL_LOAN": rng.random(n) < 0.15,
        "MORTGAGE": homeowner & (rng.random(n) < 0.6),
        "ETF_PLAN": rng.random(n) < np.where(seg_idx >= 2, 0.3, 0.08),
        "TRAVEL_INSURANCE": rng.random(n) < 0.1,
        "HOME_CONTENTS": rng.random(n) < 0.3,
    }
    first = rng.integers(len(FIRST_NAMES), size=n)
    last = rng.integers(len(LAST_NAMES), size=n)
    region = rng.choice(len(REGIONS), n, p=REGION_WEIGHTS / REGION_WEIGHTS.sum())
    tz = rng.integers(len(TIMEZONES), size=n)
    gender = rng.choice(["f", "m", "d"], n, p=[0.5, 0.49, 0.01])
    nationality = rng.choice(["DE", "TR", "PL", "IT", "other"], n, p=[0.85, 0.04, 0.03, 0.02, 0.06])
    for i in range(n):
        number = start + i + 1
        first_name, last_name = FIRST_NAMES[first[i]], LAST_NAMES[last[i]]
        yield (
            f"C{number:06d}",
            {
                "first_name": first_name,
                "last_name": last_name,
                "email": f"{first_name.lower()}.{number}@example.com",
                "phone": f"+4915{number:09d}",
                "gender": str(gender[i]),
                "nationality": str(nationality[i]),
                "age": int(age[i]),
                "region": REGIONS[region[i]],
                "segment": SEGMENTS[seg_idx[i]],
                "income": float(income[i]),
                "balance": float(balance[i]),
                "credit_score": int(credit[i]),
                "tenure_years": float(tenure[i]),
                "products": [code for code, held in owns.items() if held[i]],
                "in_arrears": bool(in_arrears[i]),
                "days_past_due": int(days_past_due[i]),
                "digital_active": bool(digital[i]),
                "last_login": (AS_OF - timedelta(days=float(login_days[i]))).isoformat(
                    timespec="seconds"
                ),
                "timezone": TIMEZONES[tz[i]],
                "churn_risk": round(float(churn[i]), 3),
                "travel_per_year": int(travel[i]),
                "homeowner": bool(homeowner[i]),
                "kids": int(kids[i]),
                "salary_account": bool(salary[i]),
            },
        )


def generate_profiles(n: int, seed: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """`n` customers `C000001`… as (customer_id, traits); the same seed gives the same bank."""
    rng = np.random.default_rng(seed)
    for start in range(0, n, CHUNK):
        yield from _chunk(rng, start, min(CHUNK, n - start))


def generate_consents(
    customer_id: str, traits: Mapping[str, Any], rng: np.random.Generator
) -> dict[str, str]:
    """A consent record per purpose: about 70 % opted in to marketing, younger digital
    customers a little more often; about 93 % to personalization. Service and information
    rest on legitimate interest; a few customers object to information mailings."""
    lift = 0.1 if traits.get("digital_active") else -0.05
    marketing = "granted" if rng.random() < 0.7 + lift else "denied"
    consents = {"marketing": marketing}
    if rng.random() < 0.03:
        consents["information"] = "denied"
    consents["personalization"] = "granted" if rng.random() < 0.93 else "denied"
    return consents


def generate_permissions(
    customer_id: str, traits: Mapping[str, Any], rng: np.random.Generator
) -> dict[str, str]:
    """Contact permissions per outbound channel: e-mail from about 85 % of customers,
    SMS from about 60 % (digital customers more often)."""
    digital = 0.1 if traits.get("digital_active") else 0.0
    return {
        "email": "granted" if rng.random() < 0.85 else "denied",
        "sms": "granted" if rng.random() < 0.5 + digital else "denied",
    }
