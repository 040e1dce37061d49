-- Each site's rules for its PCs (posture and approved networks), which were JSON in the settings
-- table, as typed tables with their history (issue 13, item 6). Every change is a new version
-- (who, when); the latest version is the one in force. Rows move from the settings table at start.

CREATE TABLE site_policy_versions (
    site_id                 TEXT NOT NULL REFERENCES org_units(id),
    version                 BIGINT NOT NULL,
    -- Antivirus signatures at most this many days old; NULL: no rule.
    max_av_age_days         BIGINT CHECK (max_av_age_days >= 0),
    -- Screen lock after at most this many seconds; NULL: no rule.
    max_screen_lock_secs    BIGINT CHECK (max_screen_lock_secs >= 0),
    require_disk_encryption BIGINT NOT NULL CHECK (require_disk_encryption IN (0, 1)),
    -- 1: the policy carried over from the settings table could not be read. Checking fails
    -- closed (every PC fails `policy_unreadable`) until an admin sets the policy again.
    unreadable              BIGINT NOT NULL DEFAULT 0 CHECK (unreadable IN (0, 1)),
    changed_at              BIGINT NOT NULL,
    changed_by              TEXT NOT NULL,
    PRIMARY KEY (site_id, version)
);

-- The lowest OS build allowed, per OS family.
CREATE TABLE site_policy_os_builds (
    site_id   TEXT NOT NULL,
    version   BIGINT NOT NULL,
    os_family TEXT NOT NULL,
    min_build TEXT NOT NULL,
    PRIMARY KEY (site_id, version, os_family),
    FOREIGN KEY (site_id, version) REFERENCES site_policy_versions(site_id, version)
);

-- The software allowlist (none listed: no allowlist), in the order the admin gave it.
CREATE TABLE site_policy_software (
    site_id  TEXT NOT NULL,
    version  BIGINT NOT NULL,
    position BIGINT NOT NULL,
    name     TEXT NOT NULL,
    PRIMARY KEY (site_id, version, position),
    FOREIGN KEY (site_id, version) REFERENCES site_policy_versions(site_id, version)
);

-- The networks the site's PCs may be seen from (none: any), in the order the admin gave them.
CREATE TABLE site_policy_networks (
    site_id  TEXT NOT NULL,
    version  BIGINT NOT NULL,
    position BIGINT NOT NULL,
    cidr     TEXT NOT NULL,
    PRIMARY KEY (site_id, version, position),
    FOREIGN KEY (site_id, version) REFERENCES site_policy_versions(site_id, version)
);
