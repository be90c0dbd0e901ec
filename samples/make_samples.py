"""Regenerate the bundled samples (run from the repository root: python samples/make_samples.py).

- iris/iris.csv: Fisher's iris data (public domain), 150 rows, 3 classes.
- churn/churn.csv: synthetic customer churn with string (categorical) columns, binary target.
- housing/housing.csv: synthetic noisy regression (clearly made up: no real houses).
The synthetic sets are drawn from a fixed seed so the files are reproducible.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def churn(rng: np.random.Generator, n: int = 600) -> None:
    plans = np.array(["basic", "plus", "premium"])
    regions = np.array(["north", "south", "east", "west"])
    plan = rng.choice(plans, n, p=[0.5, 0.3, 0.2])
    region = rng.choice(regions, n)
    tenure = rng.integers(1, 72, n)
    monthly = np.round(rng.normal(40, 12, n) + 15 * (plan == "premium"), 2)
    tickets = rng.poisson(1.5, n)
    logit = (
        -1.0
        + 0.6 * tickets
        - 0.05 * tenure
        + 0.8 * (plan == "basic")
        + 0.02 * (monthly - 40)
        + 0.4 * (region == "south")
    )
    churned = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    rows = zip(tenure, monthly, tickets, plan, region, churned, strict=True)
    _write(
        HERE / "churn" / "churn.csv",
        ["tenure_months", "monthly_fee", "support_tickets", "plan", "region", "churned"],
        rows,
    )


def housing(rng: np.random.Generator, n: int = 500) -> None:
    area = np.round(rng.uniform(30, 250, n), 1)
    rooms = np.clip(np.round(area / 30 + rng.normal(0, 1, n)), 1, 10).astype(int)
    age = rng.integers(0, 100, n)
    distance = np.round(rng.exponential(8, n), 2)
    price = 50 + 2.1 * area + 8 * rooms - 0.4 * age - 25 * np.log1p(distance) + rng.normal(0, 40, n)
    rows = zip(area, rooms, age, distance, np.round(price, 1), strict=True)
    _write(HERE / "housing" / "housing.csv", ["area_m2", "rooms", "age_years", "distance_km", "price_k"], rows)


def _write(path: Path, header: list[str], rows: object) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)  # type: ignore[arg-type]


if __name__ == "__main__":
    rng = np.random.default_rng(20261128)
    churn(rng)
    housing(rng)
