"""Benchmarks for logto_guard: ``python -m bench`` runs micro, e2e and memory in turn.

* :mod:`bench.micro`: validations per second against raw ``cryptography`` and PyJWT;
* :mod:`bench.e2e`: requests per second of the demo API under uvicorn, guarded or not;
* :mod:`bench.memory`: RSS growth while validating many distinct tokens, by cache size.
"""
