"""The bases' and departments' yearly work: plans and summaries, course vetting, trainings declared with a roster,
annual work materials."""
