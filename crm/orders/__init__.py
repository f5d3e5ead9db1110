"""Orders: lines, totals, the status workflow and the signed public status link."""
