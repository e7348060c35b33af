"""The signed record's pure parts: chain entries, recorded data as columns, minute digests and
the checks that compare stored rows with the chain. No SQL here (reading and writing the chain
is :mod:`katmonitor.storage.audit_chain`)."""
