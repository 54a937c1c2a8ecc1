"""The hours ledger: append-only entries per person, year and category, and the course credits that post to it."""
