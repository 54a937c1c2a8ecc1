"""The learner's player: the page, and playlists whose segment URLs are signed and short-lived."""
