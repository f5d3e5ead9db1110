"""Customer import: a file staged row by row, checked and applied set-based, undone within 7 days."""
