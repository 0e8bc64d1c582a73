"""Real servers run locally for tests, benchmarks and `replydesk demo`:
Dovecot (IMAP), an SMTP server, and stand-ins for the X and Reddit APIs.
Nothing here is imported by the product at run time."""
