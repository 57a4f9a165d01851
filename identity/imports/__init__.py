"""CSV and XLSX import of people through identity resolution (see docs/import-export.md).

Each row becomes an ``identify`` message of the *CSV import* source (CSV priority) and batches go
through ``identity.services.ingest_batch``: identifiers are normalized, blocked values left out,
limits and merges applied, attribute values written by the row's time, suppressed identifiers and
privacy filters respected, exactly as for tracking. This package only reads the file, maps columns,
checks each row (rejecting it alone with its reason) and reports.

- ``reader``: the file (encoding, delimiter, quoting, XLSX), streamed row by row;
- ``mapping``: what each column means, the match key, the write mode, the rows' time;
- ``rows``: a row → a message, or the reason it is rejected;
- ``setbased``: on PostgreSQL, the same writes per chunk of rows in a few SQL statements (``COPY``
  into a staging table); rows with more than the match key's identifier take the pipeline;
- ``services``: preview, start (a ``people.Job``), the job's run and its report, old files' removal;
- ``export``: profiles with chosen columns as CSV (``COPY … TO STDOUT`` on PostgreSQL) or XLSX;
- ``views``: the admin pages (upload → mapping → preview → job → report).
"""
