"""Outbox and e-mail delivery, used by every domain."""
