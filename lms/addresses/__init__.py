"""Addresses that belong to an organisation: registered egress addresses and the ones learned from its people."""
