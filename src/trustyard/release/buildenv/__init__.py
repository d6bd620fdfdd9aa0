"""The isolated build environment: PEP 517/518 build requirements resolved once, pinned with
hashes (``uv pip compile --generate-hashes``), installed with ``--require-hashes``, recorded.

One module per concern: :mod:`.system` reads a project's ``[build-system]`` and names the
distribution behind its backend; :mod:`.pins` resolves the requirements to hash-pinned versions and
holds ``build-env.json`` (:class:`~.pins.BuildEnvRecord`), which :mod:`.carried` also reads out of a
provenance; :mod:`.interpreters` finds the base
interpreters builds run on; :mod:`.cache` makes and reuses the venvs; :mod:`.uv` runs uv (and
every installer and backend) in an environment the machine's settings cannot change.
"""
