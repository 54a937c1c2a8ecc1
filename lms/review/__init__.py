"""Review of held playback sessions: the anti-cheat reviewers' queue, the evidence chart, decisions, and the
learner's view of what became of their sessions."""
