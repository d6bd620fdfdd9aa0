"""trustyard: a secure release system for Python packages."""

__version__ = "0.1.0"
