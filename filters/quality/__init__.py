"""Document quality filters: heuristic rule sets (Gopher, C4, FineWeb), language, PII and more."""
