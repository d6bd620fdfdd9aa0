"""PEP 740 attestations and in-toto / SLSA v1 statements: make, sign, verify.

This file imports nothing: sigstore and pypi-attestations take about a second to import, and the
index loads ``trust`` and ``verify`` only when an upload carries attestations (``trustyard
serve`` must start in under two seconds).
"""
