"""Benchmarks: each one command (python -m bench.NAME, from the checkout) writing one JSON to bench/results/."""
