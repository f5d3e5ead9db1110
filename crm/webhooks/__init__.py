"""Outgoing webhooks: subscriptions in Settings > Integrations; record events emitted by the services
(`events.emit("order.paid", order)`), written into the webhooks' outbox in the change's transaction and posted,
signed, by the jobs on the `webhooks` queue. See docs/architecture.md, "Outgoing webhooks"."""
