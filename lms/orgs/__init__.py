"""The organisation tree: HR bureaus, competent departments, employer units and continuing-education bases."""
