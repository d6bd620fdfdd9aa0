"""``trustyard audit``: a repository's release set-up, checked the way Scorecard and zizmor do.

One module per check family; each check is a function from a checked-out repository to a
:class:`~trustyard.audit.findings.CheckResult` (a 0-10 score with its reason, and findings as
data: file:line, why, fix, severity).
"""
