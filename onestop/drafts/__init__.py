"""Drafts of the one form: saved on the server, owned by the applicant, resumable on any device."""
