"""Distribution files as data: names, digests, filenames, archives and core metadata.
Specs: PEP 503, 427, 440, 625 and core metadata, with PyPI's upload rules on top.
"""
