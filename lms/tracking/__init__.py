"""Watch-time tracking: the server measures real watch time from heartbeats and cannot be cheated (SPEC §3)."""
