"""BoolNet in PyTorch: training modules, export to the reference, and the equivalence harness."""
