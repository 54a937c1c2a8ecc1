"""The append-only audit log of admin actions (SPEC §8)."""
