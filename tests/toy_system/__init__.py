"""A sixth external system that exists only in the tests: one module per layer, as a real new
system would bring, registered by the `toy_system` fixture with one line (its name in
EXTERNAL_SYSTEMS). It proves that adding a system needs no edit anywhere else."""
