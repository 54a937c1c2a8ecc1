"""Infrastructure shared by every feature: object storage and other component adapters."""
