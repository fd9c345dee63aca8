"""Survey templates and versions, the respondent form, responses (the surveys issue)."""
