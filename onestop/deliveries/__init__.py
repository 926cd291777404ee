"""Physical results mailed to the applicant (结果免费寄): address, carrier, tracking status."""
