"""Accounts: people who read cases (admins, officers, viewers), their tokens, and the audit log.

May import the platform and `gateway.registry`. Never a blueprint.
"""
