"""The JSON API under /api/v1 (its blueprint in `views`).

May import every domain package (`referrals`, `registry`, `accounts`) and the platform.
"""
