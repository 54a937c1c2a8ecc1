"""Bases' and units' yearly work: plans, summaries, trainings declared with a roster, departments' materials."""
