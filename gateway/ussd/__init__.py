"""USSD: the callback's blueprint, sessions through the menu engine, callers, menu versions.

May import the platform (`gateway.*` top-level modules), `gateway.referrals` (to store a
report), `gateway.registry` (places) and `menus`. Nothing else imports its views.
"""
