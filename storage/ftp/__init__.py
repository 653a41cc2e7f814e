"""The FTP/FTPS transport to HostGator, one module per concern. Knows nothing of Django.

- config.py: FTPConfig (the settings) and ServerState (what a pool learns of its server);
- session.py: one ftplib control session (TLS verified or pinned, data connections resuming its
  TLS session, PASV sent with its command, every reply bounded by the operation's deadline);
- connection.py: FTPConnection, a logged-in session's operations (login, stat, listings,
  downloads, mkdir -p, deletes, pipelines);
- upload.py: its atomic, verified upload (a hidden temporary name, the size checked, a rename);
- transfer.py: the ends of transfers (a slow link, a broken data connection) and name claims;
- replies.py: what the server's replies mean (errors, MLST facts, a full host);
- pool.py: FTPPool, the thread-safe pool under the host's per-IP cap, with retries.

storage/backends.py (HostGatorStorage) is the Django side on top of it.
"""
