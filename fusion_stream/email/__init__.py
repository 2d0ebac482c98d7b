"""Email helpers: recipient validation, MIME building and S3 attachments."""
