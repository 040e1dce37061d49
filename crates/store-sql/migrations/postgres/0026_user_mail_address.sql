-- People's mail addresses (issue 15, items 5 and 8): the relay checks that a signed-in sender
-- sends as themselves, and approval steps are mailed to the people who decide and who asked.
ALTER TABLE users ADD COLUMN mail_address TEXT;

-- A mail notification goes to the security team's list (notify.mail_to) when `recipients` is
-- empty, else to the comma-separated addresses it names.
ALTER TABLE mail_notifications ADD COLUMN recipients TEXT NOT NULL DEFAULT '';
