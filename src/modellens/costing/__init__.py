"""Per-op cost under stated conventions: FLOP and byte formulas and op categories, one registry.

Importing any part of the package loads the built-in declarations (`matmul`, `elementwise`,
`bytes`) into `registry`, so a user's registration meets them (and their duplicate checks).
"""

from . import bytes, elementwise, matmul  # noqa: F401  (they fill the registry)
