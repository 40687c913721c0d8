"""Notifications: channels (OCP's alarm channels, HTTP webhooks), what they subscribe to, and the outbox of
their deliveries with the sender loop that works it off.

Modules: `settings` (OBCP_NOTIFY_*), `events` (event names, subscriptions, payloads), `channels` (owner of
`alarm_channel`: validation, storage, the JSON view without the secret), `outbox` (the rows an event writes,
in the event's own transaction: the engine's settle listener and the parameter change's), `deliveries`
(owner of `alarm_delivery` and `alarm_delivery_attempt`: claims, attempts, the API's view), `signing` (the
HMAC header) and `sender` (the loop each server replica runs).
"""
