"""Reports: packs of reports (customers, sales ...) over a period, counted within the viewer's reports scope."""
