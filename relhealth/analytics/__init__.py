"""Analytics: answers as tidy pandas frames in, metrics out.

The metric modules (``frames``, ``metrics``, ``suppression``, ``trends``, ``panel``, ``text``,
``alerts``) are pure: they import neither Flask nor SQLAlchemy and take plain frames and
settings, so each figure can be checked by hand on a small fixed frame. ``service`` loads the
frames from the database (one query per scope) and ``api``/``views`` serve the results.
"""
