"""The project template and the release-workflow generator.

Everything here is pure text generation over data shipped with trustyard (templates, hash-pinned
locks, a table of action pins); nothing reaches the network except ``update_pins``.
"""
