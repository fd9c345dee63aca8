"""Cohorts, programs, waves, invitations and the scheduler tick (the surveys issue)."""
