"""Service tickets: complaints, inquiries and repairs, with comments and a per-agent queue."""
