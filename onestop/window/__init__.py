"""The service hall's comprehensive window (综合窗口): walk-in applicants served in person (一窗受理,
帮办代办), acceptance slips (受理回执), and results handed over at the window or mailed (综合窗口出件).
Serves window clerks; applicants registered here activate their account with a one-time code."""
