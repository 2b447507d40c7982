"""Background work: the job runner (``runner``) and the lease and retry toolkit every claiming job uses
(``leases``). Infrastructure: it knows no domain; each domain lists its own jobs."""
