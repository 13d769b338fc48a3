"""SMS: the provider, the outbox, what the gateway says, who sent an inbound SMS (`inbound`),
officers' commands (`commands`), volunteers' and community reports by SMS (`reports`), the webhooks.

May import the platform, `gateway.referrals`, `gateway.registry`, `gateway.accounts`,
`gateway.ussd.callers` (a caller's language) and `menus`. `provider`, `outbox` and `texts`
import only the platform, so that `gateway.referrals` can use them.
"""
