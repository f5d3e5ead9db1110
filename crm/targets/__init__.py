"""Sales targets: monthly targets per member and per team, carried forward, against the month's actuals."""
