"""Benchmarks: each prints figures against a floor measured in the same run. They are not tests and not shipped."""
