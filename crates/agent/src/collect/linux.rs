//! Linux collectors: `/proc`, `/etc/os-release`, dpkg's status file (or `rpm -qa`), `lsblk` for
//! encrypted volumes, nftables or ufw for the firewall, ClamAV's signature files, the `sudo` and
//! `wheel` groups. The screen-lock timeout needs the user's desktop session (its helper), so the
//! service reports it unavailable.

use super::System;
use mamori_proto::agent::{Antivirus, Inventory, Software};
use std::collections::BTreeMap;

/// `KEY=value` lines of os-release, quotes removed.
fn os_release(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        .collect()
}

/// Installed packages from dpkg's status file: stanzas whose status is "install ok installed".
pub fn dpkg_packages(status: &str) -> Vec<Software> {
    let mut out = Vec::new();
    for stanza in status.split("\n\n") {
        let (mut name, mut version, mut installed) = (None, None, false);
        for line in stanza.lines() {
            if let Some(v) = line.strip_prefix("Package: ") {
                name = Some(v.trim());
            } else if let Some(v) = line.strip_prefix("Version: ") {
                version = Some(v.trim());
            } else if let Some(v) = line.strip_prefix("Status: ") {
                installed = v.trim() == "install ok installed";
            }
        }
        if let (Some(name), true) = (name, installed) {
            out.push(Software { name: name.to_owned(), version: version.unwrap_or_default().to_owned() });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn rpm_packages(list: &str) -> Vec<Software> {
    let mut out: Vec<Software> = list
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(n, v)| Software { name: n.trim().to_owned(), version: v.trim().to_owned() })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn meminfo_mb(text: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

/// Members of the groups that may administer the machine, and root.
pub fn local_admins(group_file: &str) -> Vec<String> {
    let mut admins = vec!["root".to_owned()];
    for line in group_file.lines() {
        let fields: Vec<&str> = line.split(':').collect();
        if let [name, _, _, members] = fields.as_slice()
            && matches!(*name, "sudo" | "wheel" | "admin")
        {
            admins.extend(members.split(',').map(str::trim).filter(|m| !m.is_empty()).map(str::to_owned));
        }
    }
    admins.sort();
    admins.dedup();
    admins
}

pub fn inventory(sys: &dyn System) -> Inventory {
    let mut unavailable = BTreeMap::new();
    let mut gap = |what: &str, why: &str| {
        unavailable.insert(what.to_owned(), why.to_owned());
    };
    let release = os_release(&sys.read("/etc/os-release").unwrap_or_default());
    let hostname = sys.read("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_owned();
    let uptime_secs = sys
        .read("/proc/uptime")
        .and_then(|u| u.split_whitespace().next()?.split('.').next()?.parse().ok())
        .unwrap_or(0);
    let cpu_model = sys.read("/proc/cpuinfo").and_then(|c| {
        c.lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_owned())
    });
    let software = match sys.read("/var/lib/dpkg/status") {
        Some(status) => dpkg_packages(&status),
        None => match sys.run("rpm", &["-qa", "--queryformat", "%{NAME}\t%{VERSION}-%{RELEASE}\n"]) {
            Some(list) => rpm_packages(&list),
            None => {
                gap("software", "neither dpkg nor rpm found");
                Vec::new()
            }
        },
    };
    let disk_encryption = match sys.run("lsblk", &["-rno", "TYPE"]) {
        Some(types) => Some(types.lines().any(|t| t.trim() == "crypt")),
        None => {
            gap("disk_encryption", "lsblk is not available");
            None
        }
    };
    let firewall_enabled = match (sys.run("nft", &["list", "ruleset"]), sys.run("ufw", &["status"])) {
        (Some(rules), _) if rules.contains("chain") => Some(true),
        (_, Some(status)) => Some(status.contains("Status: active")),
        (Some(_), None) => Some(false),
        (None, None) => {
            gap("firewall", "nft and ufw could not be read (the service needs root)");
            None
        }
    };
    gap("screen_lock_timeout", "read by the helper in the user's desktop session; none is running");
    let clamav =
        ["/var/lib/clamav/daily.cld", "/var/lib/clamav/daily.cvd"].iter().find_map(|p| sys.age_days(p));
    let antivirus = match clamav {
        Some(age) => Some(Antivirus { product: "ClamAV".into(), signature_age_days: Some(age) }),
        None => {
            gap("antivirus", "no ClamAV signatures found");
            None
        }
    };
    Inventory {
        hostname,
        os_family: "linux".into(),
        os_name: release
            .get("PRETTY_NAME")
            .or_else(|| release.get("NAME"))
            .cloned()
            .unwrap_or_else(|| "Linux".into()),
        os_version: release.get("VERSION_ID").cloned().unwrap_or_default(),
        os_build: sys.read("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_owned(),
        uptime_secs,
        cpu_model,
        cpu_count: sys.cpu_count(),
        memory_mb: meminfo_mb(&sys.read("/proc/meminfo").unwrap_or_default()),
        disk_encryption,
        firewall_enabled,
        screen_lock_timeout_secs: None,
        antivirus,
        local_admins: local_admins(&sys.read("/etc/group").unwrap_or_default()),
        software,
        unavailable,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::HashMap;

    struct Canned {
        files: HashMap<&'static str, &'static str>,
        commands: HashMap<&'static str, &'static str>,
    }

    impl System for Canned {
        fn read(&self, path: &str) -> Option<String> {
            self.files.get(path).map(|s| (*s).to_owned())
        }
        fn run(&self, program: &str, _: &[&str]) -> Option<String> {
            self.commands.get(program).map(|s| (*s).to_owned())
        }
        fn age_days(&self, path: &str) -> Option<u32> {
            self.files.contains_key(path).then_some(3)
        }
        fn cpu_count(&self) -> u32 {
            4
        }
    }

    #[test]
    fn parses_a_debian_pc() {
        let sys = Canned {
            files: HashMap::from([
                (
                    "/etc/os-release",
                    "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n",
                ),
                ("/proc/sys/kernel/hostname", "op-pc-017\n"),
                ("/proc/sys/kernel/osrelease", "6.1.0-26-amd64\n"),
                ("/proc/uptime", "3600.52 7000.10\n"),
                ("/proc/cpuinfo", "processor\t: 0\nmodel name\t: Intel(R) Core(TM) i5-8250U\n"),
                ("/proc/meminfo", "MemTotal:       16314208 kB\nMemFree: 1 kB\n"),
                ("/etc/group", "root:x:0:\nsudo:x:27:tanaka,suzuki\nusers:x:100:sato\n"),
                ("/var/lib/clamav/daily.cld", ""),
                (
                    "/var/lib/dpkg/status",
                    "Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2\n\nPackage: old\nStatus: deinstall ok config-files\nVersion: 1\n\nPackage: anydesk\nStatus: install ok installed\nVersion: 6.3.0\n",
                ),
            ]),
            commands: HashMap::from([("lsblk", "disk\npart\ncrypt\nlvm\n"), ("ufw", "Status: active\n")]),
        };
        let inv = inventory(&sys);
        assert_eq!(inv.hostname, "op-pc-017");
        assert_eq!(inv.os_name, "Debian GNU/Linux 12 (bookworm)");
        assert_eq!((inv.os_version.as_str(), inv.os_build.as_str()), ("12", "6.1.0-26-amd64"));
        assert_eq!(inv.uptime_secs, 3600);
        assert_eq!(inv.cpu_model.as_deref(), Some("Intel(R) Core(TM) i5-8250U"));
        assert_eq!((inv.cpu_count, inv.memory_mb), (4, 15931));
        assert_eq!(inv.disk_encryption, Some(true));
        assert_eq!(inv.firewall_enabled, Some(true));
        assert_eq!(inv.local_admins, vec!["root", "suzuki", "tanaka"]);
        let names: Vec<&str> = inv.software.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, vec!["anydesk", "bash"], "removed packages are not installed software");
        assert_eq!(inv.antivirus, Some(Antivirus { product: "ClamAV".into(), signature_age_days: Some(3) }));
        assert!(inv.unavailable.contains_key("screen_lock_timeout"));
    }

    #[test]
    fn says_what_it_could_not_learn() {
        let sys = Canned { files: HashMap::new(), commands: HashMap::new() };
        let inv = inventory(&sys);
        for gap in ["software", "disk_encryption", "firewall", "antivirus", "screen_lock_timeout"] {
            assert!(inv.unavailable.contains_key(gap), "{gap}");
        }
        assert_eq!(inv.disk_encryption, None);
        assert_eq!(inv.local_admins, vec!["root"]);
    }
}
