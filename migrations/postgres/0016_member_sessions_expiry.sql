-- Housekeeping deletes expired member sessions every minute: found by their expiry.
CREATE INDEX member_sessions_expiry ON member_sessions (expires_at);
