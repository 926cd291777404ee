"""效能监察: the auditors' workspace (processing-time logs, dashboards, exports, audit trail). Read-only
for the auditors it serves; its only writes are its own roll-ups, export files and audit events."""
