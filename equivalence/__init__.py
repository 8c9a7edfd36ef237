"""Who else is checked against the reference: harnesses for other implementations."""
