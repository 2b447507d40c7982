"""Operations: the staff-only ops page and the audited feature-flag changes shared with the CLI."""
