"""Statistics for every admin level (admin manual 5.4): kept as tallies per organisation, summed per subtree."""
