"""The platform operator's console (/platform): every tenant's plan, state and usage counts, and the operator's
actions on them (suspend, restore, extend a trial, change the plan), each audited in `public.operator_actions`."""
