"""好差评: the applicant rates each department of an application; bad ratings are answered by the head."""
