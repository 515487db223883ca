"""Benchmarks: each compares the bot with a baseline measured in the same run (see bench/README.md)."""
