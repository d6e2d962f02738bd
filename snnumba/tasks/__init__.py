"""Floor 3: ready-made problems built from the engine."""
