"""Helpers shared by the test suites: finding and starting the real components."""
