"""Lambda handlers and DynamoDB repositories (AWS-facing layer)."""
