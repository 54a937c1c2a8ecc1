"""The bases' and departments' yearly work: plans and summaries, course vetting, annual work materials."""
