"""The connector contract, written once and used by every connector.

Nothing in this package knows a connector: `rdvsp/` and `doctolib/` build on it.
"""
