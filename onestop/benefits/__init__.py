"""免申即享 (benefits that find their applicants): enterprise data, offers, one-click confirmation, and the
objections to a 公示 open to anyone. Serves administrators (data import, matching), enterprise operators
(offers), the public (the notice page and objections) and 人社 reviewers (checking objections)."""
