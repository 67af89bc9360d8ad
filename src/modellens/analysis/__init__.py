"""Pure functions of a `Capture`: FLOPs, memory, roofline, modules, matrices, uniqueness."""
