"""Courses of the continuing-education bases: authoring, media assets, catalogue and enrolment."""
