"""The policy gate for upstream files (issue 18): which files of a proxied project clients are
shown and may fetch, and why. :mod:`.rules` decides (pure, no I/O); the state it decides on is
kept in the catalogue by :mod:`trustyard.index.services.policy`."""
