"""Per-op cost under stated conventions: FLOP and byte formulas and op categories, one registry."""
