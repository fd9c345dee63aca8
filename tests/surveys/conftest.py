"""Fixtures for survey tests: a company name, and answers that fill the shipped template."""

import pytest

from relhealth.surveys.builtin import DIMENSIONS

COMPANY = "Northwind Consulting"


@pytest.fixture(autouse=True)
def company_name(app, monkeypatch):
    monkeypatch.setitem(app.config, "COMPANY_NAME", COMPANY)
    return COMPANY


def full_answers(nps=9, rating=4, **extra) -> dict:
    """Answers to every required question of Relationship health."""
    return {"nps": nps, **dict.fromkeys(DIMENSIONS, rating), **extra}


def form_data(nps="9", rating="4", **extra) -> dict:
    """The same, as a browser posts them."""
    return {key: str(value) for key, value in full_answers(nps, rating, **extra).items()}
