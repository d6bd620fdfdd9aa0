"""The pull-through proxy of an upstream PEP 691 index (issue 17).

``client`` speaks to the upstream (bounded timeouts), ``pages`` parses its project pages (PEP 691
JSON, PEP 503/700 HTML) into one listing form, ``listing`` is the one place that decides which
upstream files clients see, ``render`` writes them as our own simple pages, ``proxy`` keeps the
page cache (TTL, ETag revalidation, shared through the catalogue) and fetches files once
(single-flight, sha256 checked before anything is stored or served), ``json_api`` answers
``/pypi/<name>/json`` for upstream projects and ``guard`` refuses shadowing a public name.
Whether a name is upstream's at all is decided by ``services/locality.py``: local wins wholly.
"""
