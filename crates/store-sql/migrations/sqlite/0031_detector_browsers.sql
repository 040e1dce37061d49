-- First-seen device (issue 16): the browsers a person signed in from (a digest of the console's
-- recognition cookie) are remembered beside their networks, each row saying which it is. A
-- digest and a network never look alike, so the key stays (subject, network).
ALTER TABLE detector_networks ADD COLUMN kind TEXT NOT NULL DEFAULT 'network';
