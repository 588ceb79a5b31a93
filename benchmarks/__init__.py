"""Benchmarks of aigc_keras: throughput, input pipeline, sampling, time-to-quality, memory (see
run.py)."""
