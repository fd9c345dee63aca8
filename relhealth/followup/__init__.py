"""Closing the loop: follow-up cases, closed-loop KPIs, praise routing, outreach experiments."""
