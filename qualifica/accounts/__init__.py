"""Organizations (real-estate agencies), their users, login and sessions."""
