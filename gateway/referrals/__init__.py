"""Referrals: a case's whole life (`lifecycle`), who gets it (`routing`), its timeline,
who may read what of it (`cases`), the reports and visits it is opened from, and the
supervisors' daily digest (`digest`).

May import the platform, `gateway.sms.provider|outbox|texts`, `gateway.registry.places`,
`gateway.accounts` and `menus`. Never a blueprint.
"""
