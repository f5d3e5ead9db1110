"""The timeline: what happened with a customer or a deal, newest first."""
