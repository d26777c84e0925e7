"""Kate's benchmarks: `python -m bench` runs the suite of issue 6; bench_*.py are single probes."""
