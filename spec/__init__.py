"""What must hold: the requirement registry, and (later) symbolic twins and proofs."""
