"""People and their accounts: registration, approval, login and passwords."""
