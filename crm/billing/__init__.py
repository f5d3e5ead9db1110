"""Plans, each workspace's subscription state, the limits a plan sets and where they are enforced, the read-only
state, and the usage page (docs/architecture.md, "Billing")."""
