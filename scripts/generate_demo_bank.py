"""Write the demo bank's issue files (nextbest/demo/bank/issues/*.yaml) from the tables below.

    python scripts/generate_demo_bank.py

About 100 actions by hand would be error-prone; these tables are the reviewable source.
The YAML it writes is ordinary configuration: edit it by hand if you prefer, but then
stop regenerating.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

OUT = Path(__file__).resolve().parent.parent / "nextbest" / "demo" / "bank" / "issues"

INBOUND = ("web", "app", "call_center")
ALL = ("web", "app", "call_center", "email", "sms")
PLACEMENTS = {
    "web": ("hero", "sidebar"),
    "app": ("home", "feed"),
    "call_center": ("agent",),
    "email": ("body",),
    "sms": ("message",),
}

SALES_SUITABILITY = ["not in_arrears", "coalesce(days_past_due, 0) == 0", "balance >= 0"]

# issue → (issue-level rules, purpose, [groups])
# group → (name, group-level rules, channels, min_assurance, [actions])
# action → (id, title, value, {extra keys})
ISSUES: dict[str, dict[str, Any]] = {
    "acquisition": {
        "purpose": "marketing",
        "eligibility": ["age >= 18"],
        "groups": [
            (
                "accounts",
                {"applicability": ['not owns("CHECKING") or segment == "student"']},
                ALL,
                1,
                [
                    ("checking-account", "The free current account", 60, {}),
                    ("joint-account", "A joint account for two", 50, {"eligibility": "age >= 21"}),
                    (
                        "student-account",
                        "Free student account",
                        30,
                        {"eligibility": "age < 27", "tags": ["young"]},
                    ),
                    (
                        "premium-account",
                        "Premium account with travel cover",
                        120,
                        {"suitability": "income >= 60000", "tags": ["travel"]},
                    ),
                    (
                        "business-account",
                        "An account for your business",
                        90,
                        {"suitability": "income >= 40000"},
                    ),
                    (
                        "young-adult-account",
                        "Your first own account",
                        25,
                        {"eligibility": "age < 25", "tags": ["young"]},
                    ),
                    ("expat-account", "Banking across borders", 45, {"tags": ["travel"]}),
                ],
            ),
            (
                "onboarding",
                {},
                INBOUND,
                1,
                [
                    (
                        "switch-service",
                        "Switch your salary in 5 minutes",
                        80,
                        {"applicability": "not salary_account"},
                    ),
                    (
                        "refer-a-friend",
                        "Bring a friend, get 50 EUR",
                        40,
                        {"eligibility": "tenure_years >= 1"},
                    ),
                ],
            ),
        ],
    },
    "cross-sell": {
        "purpose": "marketing",
        "eligibility": ["age >= 18"],
        "suitability": SALES_SUITABILITY,
        "groups": [
            (
                "cards",
                {"suitability": "credit_score >= 550"},
                ALL,
                1,
                [
                    (
                        "gold-card",
                        "The Gold card",
                        120,
                        {
                            "applicability": 'not owns("GOLD_CARD")',
                            "suitability": "income >= 30000",
                        },
                    ),
                    (
                        "platinum-card",
                        "Platinum: lounge access included",
                        180,
                        {
                            "applicability": 'not owns("PLATINUM_CARD")',
                            "suitability": "income >= 80000",
                            "tags": ["travel"],
                        },
                    ),
                    (
                        "student-card",
                        "A credit card for students",
                        35,
                        {
                            "eligibility": "age < 27",
                            "applicability": 'not owns("STUDENT_CARD")',
                            "tags": ["young"],
                        },
                    ),
                    (
                        "travel-card",
                        "No fees abroad",
                        90,
                        {"applicability": 'not owns("TRAVEL_CARD")', "tags": ["travel"]},
                    ),
                    (
                        "cashback-card",
                        "1% back on everything",
                        80,
                        {"applicability": 'not owns("CASHBACK_CARD")'},
                    ),
                    (
                        "virtual-card",
                        "A virtual card in your app",
                        20,
                        {"applicability": "digital_active", "tags": ["digital"]},
                    ),
                    (
                        "business-card",
                        "The card for your business",
                        110,
                        {"suitability": "income >= 50000"},
                    ),
                    (
                        "credit-limit-increase",
                        "Raise your credit limit",
                        70,
                        {
                            "min_assurance": 3,
                            "applicability": 'owns("GOLD_CARD") or owns("CASHBACK_CARD")',
                            "suitability": "credit_score >= 700",
                        },
                    ),
                ],
            ),
            (
                "loans",
                {"suitability": "credit_score >= 600"},
                ALL,
                1,
                [
                    (
                        "personal-loan",
                        "A personal loan at a fair rate",
                        150,
                        {
                            "applicability": 'not owns("PERSONAL_LOAN")',
                            "suitability": "income >= 20000",
                        },
                    ),
                    ("car-loan", "Finance your next car", 160, {"suitability": "income >= 25000"}),
                    (
                        "green-loan",
                        "Loans for solar and heat pumps",
                        140,
                        {"applicability": "homeowner", "tags": ["green"]},
                    ),
                    (
                        "consolidation-loan",
                        "One loan instead of many",
                        130,
                        {"applicability": "len(products) >= 4"},
                    ),
                    (
                        "overdraft-facility",
                        "A safety net on your account",
                        60,
                        {"applicability": 'owns("CHECKING")'},
                    ),
                    ("home-improvement-loan", "Renovate now", 140, {"applicability": "homeowner"}),
                    (
                        "student-loan",
                        "Finance your studies",
                        50,
                        {"eligibility": "age < 30", "tags": ["young"]},
                    ),
                ],
            ),
            (
                "savings",
                {},
                ALL,
                1,
                [
                    (
                        "instant-savings",
                        "Instant access savings at 2.5%",
                        45,
                        {"applicability": 'not owns("SAVINGS")'},
                    ),
                    (
                        "fixed-term-1y",
                        "Fixed term: 1 year at 3%",
                        55,
                        {"suitability": "balance >= 2000"},
                    ),
                    (
                        "fixed-term-3y",
                        "Fixed term: 3 years at 3.2%",
                        60,
                        {"suitability": "balance >= 5000"},
                    ),
                    (
                        "kids-savings",
                        "Savings for your children",
                        40,
                        {"applicability": "kids > 0", "tags": ["family"]},
                    ),
                    ("goal-savings", "Save towards a goal", 35, {"tags": ["digital"]}),
                    (
                        "round-up-savings",
                        "Round up every payment",
                        25,
                        {"applicability": "digital_active", "tags": ["digital"]},
                    ),
                    ("christmas-savings", "Christmas savings club", 20, {}),
                ],
            ),
            (
                "investments",
                {"suitability": "balance >= 1000"},
                ALL,
                1,
                [
                    (
                        "etf-savings-plan",
                        "ETF savings plan from 25 EUR",
                        90,
                        {"applicability": 'not owns("ETF_PLAN")'},
                    ),
                    (
                        "robo-advisor",
                        "Let the robo-advisor invest",
                        100,
                        {"applicability": "digital_active", "tags": ["digital"]},
                    ),
                    (
                        "pension-plan",
                        "Close your pension gap",
                        110,
                        {"eligibility": "age >= 25 and age < 60"},
                    ),
                    ("gold-savings", "Save in gold", 50, {}),
                    ("sustainable-fund", "Invest sustainably", 85, {"tags": ["green"]}),
                ],
            ),
            (
                "insurance",
                {},
                ALL,
                1,
                [
                    (
                        "travel-insurance",
                        "Travel insurance for the whole year",
                        60,
                        {"applicability": 'not owns("TRAVEL_INSURANCE")', "tags": ["travel"]},
                    ),
                    (
                        "home-contents",
                        "Home contents insurance",
                        70,
                        {"applicability": 'not owns("HOME_CONTENTS")'},
                    ),
                    ("liability-insurance", "Private liability cover", 45, {}),
                    ("phone-insurance", "Cover for your phone", 25, {"tags": ["digital"]}),
                    (
                        "life-insurance",
                        "Protect your family",
                        140,
                        {"applicability": "kids > 0", "tags": ["family"]},
                    ),
                    ("car-insurance", "Car insurance that pays", 90, {}),
                    ("pet-insurance", "Insurance for your pet", 35, {}),
                    ("dental-insurance", "Dental top-up", 40, {}),
                ],
            ),
            (
                "mortgages",
                {"suitability": "credit_score >= 650 and income >= 40000"},
                ALL,
                1,
                [
                    (
                        "first-home-mortgage",
                        "Your first home",
                        300,
                        {"applicability": "not homeowner", "eligibility": "age < 55"},
                    ),
                    (
                        "remortgage",
                        "Remortgage at a better rate",
                        250,
                        {"applicability": 'homeowner and owns("MORTGAGE")'},
                    ),
                    (
                        "green-home-mortgage",
                        "Green mortgage for efficient homes",
                        280,
                        {"tags": ["green"]},
                    ),
                    ("building-savings", "Building savings contract", 90, {}),
                    ("rate-lock", "Lock today's rate", 200, {"applicability": 'owns("MORTGAGE")'}),
                ],
            ),
        ],
    },
    "service": {
        "purpose": "service",
        "groups": [
            (
                "account-care",
                {},
                ALL,
                2,
                [
                    (
                        "update-address",
                        "Is your address still right?",
                        8,
                        {"eligibility": "tenure_years >= 3"},
                    ),
                    ("verify-email", "Confirm your e-mail address", 6, {}),
                    ("add-phone", "Add a phone number for security codes", 6, {}),
                    ("e-statements", "Go paperless", 5, {"applicability": "digital_active"}),
                    (
                        "renew-card",
                        "Your card expires soon",
                        12,
                        {"applicability": 'owns("GOLD_CARD")'},
                    ),
                    (
                        "direct-debit-setup",
                        "Set up direct debits",
                        7,
                        {"applicability": "salary_account"},
                    ),
                    ("standing-order-review", "Review your standing orders", 5, {}),
                ],
            ),
            (
                "digital-help",
                {},
                INBOUND,
                1,
                [
                    (
                        "app-tour",
                        "A quick tour of the app",
                        10,
                        {"applicability": "not digital_active", "tags": ["digital"]},
                    ),
                    ("biometric-login", "Log in with your fingerprint", 8, {"tags": ["digital"]}),
                    ("push-notifications", "Turn on notifications", 5, {"tags": ["digital"]}),
                    ("budget-insights", "See where your money goes", 12, {"tags": ["digital"]}),
                    (
                        "new-feature-tour",
                        "New in the app",
                        6,
                        {"applicability": "digital_active", "tags": ["digital"]},
                    ),
                ],
            ),
            (
                "security",
                {},
                ALL,
                1,
                [
                    ("enable-2fa", "Protect your login", 15, {}),
                    ("security-checkup", "Take the security check-up", 10, {}),
                    ("fraud-alert-setup", "Get fraud alerts", 12, {}),
                    (
                        "travel-notice",
                        "Travelling? Tell us",
                        8,
                        {"applicability": "travel_per_year >= 2", "tags": ["travel"]},
                    ),
                ],
            ),
        ],
    },
    "retention": {
        "purpose": "marketing",
        "groups": [
            (
                "loyalty",
                {"eligibility": "tenure_years >= 2"},
                ALL,
                1,
                [
                    (
                        "loyalty-bonus",
                        "A thank-you bonus",
                        60,
                        {"applicability": "churn_risk >= 0.3"},
                    ),
                    (
                        "fee-waiver",
                        "A year without account fees",
                        80,
                        {"applicability": "churn_risk >= 0.5"},
                    ),
                    (
                        "anniversary-gift",
                        "Happy anniversary with us",
                        30,
                        {"eligibility": "tenure_years >= 5"},
                    ),
                    (
                        "premium-upgrade-trial",
                        "Try premium for free",
                        50,
                        {"suitability": "income >= 40000"},
                    ),
                    ("cashback-boost", "Double cashback this month", 45, {}),
                ],
            ),
            (
                "save-desk",
                {"applicability": "churn_risk >= 0.4"},
                INBOUND,
                1,
                [
                    ("rate-match", "We match your better offer", 120, {}),
                    ("callback-offer", "Let an advisor call you", 70, {}),
                    ("complaint-resolution", "Let us put it right", 90, {}),
                    (
                        "personal-advisor",
                        "Your own personal advisor",
                        100,
                        {"suitability": "income >= 70000"},
                    ),
                    ("switch-back-offer", "Come back and get 100 EUR", 110, {}),
                ],
            ),
        ],
    },
    "information": {
        "purpose": "information",
        "groups": [
            (
                "education",
                {},
                ALL,
                0,
                [
                    ("investing-basics", "Investing in five minutes", 3, {}),
                    ("saving-tips", "Ten saving tips", 2, {}),
                    (
                        "pension-gap",
                        "How big is your pension gap?",
                        4,
                        {"eligibility": "age >= 25"},
                    ),
                    ("credit-score-guide", "Understand your credit score", 3, {}),
                    ("tax-tips", "Tax tips for this year", 3, {}),
                ],
            ),
            (
                "news",
                {},
                ALL,
                0,
                [
                    ("info-security-tips", "Stay safe: security tips", 1, {}),
                    ("branch-hours", "Our new opening hours", 1, {}),
                    ("new-app-release", "The new app is here", 2, {"tags": ["digital"]}),
                    ("rate-change-notice", "Interest rates are changing", 2, {}),
                    ("market-update", "This month on the markets", 2, {}),
                    ("fraud-awareness", "Spot a scam", 2, {}),
                    ("open-banking-info", "All your accounts in one app", 2, {"tags": ["digital"]}),
                ],
            ),
        ],
    },
    "resilience": {
        "purpose": "service",
        "eligibility": ["in_arrears or coalesce(days_past_due, 0) > 0 or balance < 0"],
        "groups": [
            (
                "hardship",
                {},
                ALL,
                2,
                [
                    (
                        "payment-holiday",
                        "Take a break from repayments",
                        40,
                        {"applicability": 'owns("PERSONAL_LOAN") or owns("MORTGAGE")'},
                    ),
                    ("repayment-plan", "A repayment plan that fits", 50, {}),
                    ("debt-advice", "Free, confidential debt advice", 30, {}),
                    ("budget-coaching", "Budget coaching with an expert", 25, {}),
                    (
                        "hardship-fund",
                        "Apply to our hardship fund",
                        35,
                        {"suitability": "income < 30000"},
                    ),
                ],
            ),
            (
                "early-warning",
                {},
                ALL,
                1,
                [
                    ("low-balance-alert", "Turn on low-balance alerts", 20, {}),
                    ("overdraft-buffer", "A 0% overdraft buffer", 30, {}),
                    ("bill-reminder", "Never miss a bill", 15, {}),
                    ("income-drop-checkin", "Has your income changed?", 25, {}),
                    ("energy-cost-help", "Help with energy costs", 25, {}),
                    ("financial-health-check", "A free financial health check", 20, {}),
                ],
            ),
        ],
    },
}


def treatments(
    action_id: str, title: str, channels: tuple[str, ...], variants: bool
) -> list[dict[str, str]]:
    result = []
    for channel in channels:
        for placement in PLACEMENTS[channel]:
            if channel in ("web", "app") and placement in ("hero", "home"):
                content = "{{ first_name }}, " + title[0].lower() + title[1:]
            elif channel == "email":
                content = "Dear {{ first_name }},\n" + title + "."
            elif channel == "call_center":
                content = "Suggest: " + title
            else:
                content = title
            result.append(
                {
                    "id": f"{action_id}-{channel}-{placement}".replace("_", "-"),
                    "channel": channel,
                    "placement": placement,
                    "content": content,
                }
            )
            if variants and channel == "web" and placement == "hero":
                result.append(
                    {
                        "id": f"{action_id}-web-hero-b",
                        "channel": channel,
                        "placement": placement,
                        "content": title + " — find out more",
                    }
                )
    return result


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    total = 0
    for issue, spec in ISSUES.items():
        doc: dict[str, Any] = {"issue": issue}
        for stage in ("eligibility", "applicability", "suitability"):
            if stage in spec:
                doc[stage] = spec[stage]
        groups = []
        for name, group_rules, channels, assurance, actions in spec["groups"]:
            group: dict[str, Any] = {"group": name, **group_rules, "actions": []}
            for i, (action_id, title, value, extra) in enumerate(actions):
                extra = dict(extra)
                action: dict[str, Any] = {
                    "id": action_id,
                    "name": title,
                    "value": value,
                    "purpose": spec["purpose"],
                    "min_assurance": extra.pop("min_assurance", assurance),
                }
                if extra.get("tags"):
                    action["tags"] = extra.pop("tags")
                action.update(extra)
                action_channels = ALL if action_id == "info-security-tips" else channels
                action["treatments"] = treatments(
                    action_id, title, action_channels, variants=i == 0
                )
                group["actions"].append(action)
                total += 1
            groups.append(group)
        doc["groups"] = groups
        header = (
            f"# Business issue `{issue}` of the demo bank.\n"
            "# Generated by scripts/generate_demo_bank.py from its tables; regenerate rather than edit.\n"
        )
        text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
        (OUT / f"{issue}.yaml").write_text(header + text, encoding="utf-8")
    print(f"wrote {len(ISSUES)} issues, {total} actions to {OUT}")


if __name__ == "__main__":
    main()
