"""Output: text tables, JSON and (later) HTML, built on top of the engine."""
