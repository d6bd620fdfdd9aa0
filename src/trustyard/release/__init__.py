"""The maintainer's pipeline: reproducible build, comparison and verification of a release.

Each stage is a function over a release directory; ``trustyard.cli`` only parses and prints.
"""
