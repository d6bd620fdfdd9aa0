"""Distribution files as data: names, digests, filenames, archives and core metadata.

Pure functions on strings, bytes and paths, shared by the index and the release pipeline.
"""
