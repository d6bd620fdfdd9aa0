"""The web interface's pages, one module per area: browsing, the account (sign-in, API tokens),
a project's settings, trusted publishers, and the admin pages. Each handler parses the request,
calls a service, renders; :mod:`trustyard.index.web.routes` lists their paths.
"""
