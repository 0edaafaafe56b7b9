"""Use cases of the identity service: authorizations, credentials and tokens, organizer verification."""
