"""The index's web interface: server-rendered pages for browsing projects and managing them.

Paths follow PyPI's (``/project/<name>/``, ``/search/``, ``/account/login/``, ``/manage/...``).
"""
