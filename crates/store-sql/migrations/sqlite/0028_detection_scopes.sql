-- Detection (issue 16): a rule's settings beyond the first five — where it applies (sites,
-- teams, client companies), the administrators' change window, how long a network stays
-- known — as one JSON value ('' for none).
ALTER TABLE detection_rules ADD COLUMN options TEXT NOT NULL DEFAULT '';

-- First-seen network: per person, the networks (IPv4 /24, IPv6 /48) they signed in from and
-- when last, written with the detection feed's cursor; at most a few dozen per person.
CREATE TABLE detector_networks (
    subject   TEXT NOT NULL,
    network   TEXT NOT NULL,
    last_seen BIGINT NOT NULL,
    PRIMARY KEY (subject, network)
);
