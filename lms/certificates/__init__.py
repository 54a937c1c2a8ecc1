"""Yearly certificates of continuing-education hours: issue, PDF, public verification, admin look-up."""
