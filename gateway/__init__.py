"""Ijwi's gateway: the Flask app, its adapters (SQL, Redis, SMS) and the domain packages.

The platform sits at the top: `app` (factory), `config`, `db`, `models`, `vocabulary`,
`crypto`, `keys`, `redis_conn`, `runtime`, `clock`, `phones`, `migrate`, `health`,
`webhooks`, `launcher`. It imports no domain package (`runtime` builds the place index, the
menu catalog and the SMS provider, by name). The domain packages are `ussd`, `sms`,
`referrals`, `registry`, `accounts`, `api` and `cli`; each says in its docstring what it
may import. `menus` (the pure engine) imports nothing of `gateway` or `workers`.
"""
