"""Side-by-side speed benchmarks (plain scripts; see README.md). Run from the repository root."""
