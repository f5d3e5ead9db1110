"""Follow-ups: planned and logged interactions, reminders, and My day."""
