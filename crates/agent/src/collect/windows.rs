//! Windows collectors, through the tools every Windows has: `reg query` for the OS version, the
//! installed software (the uninstall keys, 64- and 32-bit) and the screen-lock policy; `netsh`
//! for the firewall; `net localgroup` for local administrators; PowerShell's CIM for Windows
//! Security Center (antivirus) and memory; `manage-bde` for BitLocker (needs administrator).
//! The parsers are plain text functions, tested on any OS with real outputs.

use super::System;
use mamori_proto::agent::{Antivirus, Inventory, Software};
use std::collections::BTreeMap;

/// `reg query` output: the values of each key, by key.
pub fn reg_values(output: &str) -> Vec<BTreeMap<String, String>> {
    let mut keys = Vec::new();
    let mut current: Option<BTreeMap<String, String>> = None;
    for line in output.lines() {
        if line.starts_with("HKEY_") {
            if let Some(k) = current.take() {
                keys.push(k);
            }
            current = Some(BTreeMap::new());
        } else if let Some(values) = current.as_mut() {
            // "    Name    REG_SZ    Value"
            let parts: Vec<&str> = line.trim().splitn(3, "    ").collect();
            if let [name, kind, value] = parts.as_slice()
                && kind.starts_with("REG_")
            {
                values.insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
    }
    keys.extend(current);
    keys
}

/// Installed programs from the uninstall keys (entries without a display name, and system
/// components, are not programs a user installed).
pub fn installed_software(outputs: &[String]) -> Vec<Software> {
    let mut out: Vec<Software> = outputs
        .iter()
        .flat_map(|o| reg_values(o))
        .filter(|v| v.get("SystemComponent").map(String::as_str) != Some("0x1"))
        .filter_map(|v| {
            Some(Software {
                name: v.get("DisplayName")?.clone(),
                version: v.get("DisplayVersion").cloned().unwrap_or_default(),
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name).then(a.version.cmp(&b.version)));
    out.dedup();
    out
}

/// `net localgroup Administrators`: the members between the dashed line and the closing line.
pub fn group_members(output: &str) -> Vec<String> {
    let mut members = Vec::new();
    let mut inside = false;
    for line in output.lines() {
        let l = line.trim();
        if l.starts_with("---") {
            inside = true;
        } else if inside
            && !l.is_empty()
            && !l.starts_with("The command completed")
            && !l.contains("コマンドは正常に終了")
        {
            members.push(l.to_owned());
        }
    }
    members
}

/// `netsh advfirewall show allprofiles state`: on when every profile's State is ON.
pub fn firewall_on(output: &str) -> Option<bool> {
    let states: Vec<bool> = output
        .lines()
        .filter_map(|l| l.trim().strip_prefix("State"))
        .map(|v| v.trim().eq_ignore_ascii_case("ON"))
        .collect();
    (!states.is_empty()).then(|| states.iter().all(|s| *s))
}

pub fn inventory(sys: &dyn System) -> Inventory {
    let mut unavailable = BTreeMap::new();
    let mut gap = |what: &str, why: &str| {
        unavailable.insert(what.to_owned(), why.to_owned());
    };
    let version = sys
        .run("reg", &["query", r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion"])
        .map(|o| reg_values(&o).into_iter().next().unwrap_or_default())
        .unwrap_or_default();
    let uninstall = [
        r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall",
        r"HKLM\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall",
    ];
    let outputs: Vec<String> = uninstall.iter().filter_map(|k| sys.run("reg", &["query", k, "/s"])).collect();
    if outputs.is_empty() {
        gap("software", "the uninstall keys could not be read");
    }
    let firewall_enabled =
        sys.run("netsh", &["advfirewall", "show", "allprofiles", "state"]).and_then(|o| firewall_on(&o));
    if firewall_enabled.is_none() {
        gap("firewall", "netsh advfirewall could not be read");
    }
    let screen_lock_timeout_secs = sys
        .run(
            "reg",
            &[
                "query",
                r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System",
                "/v",
                "InactivityTimeoutSecs",
            ],
        )
        .and_then(|o| reg_values(&o).into_iter().next()?.get("InactivityTimeoutSecs").cloned())
        .and_then(|v| u32::from_str_radix(v.trim_start_matches("0x"), 16).ok());
    if screen_lock_timeout_secs.is_none() {
        gap("screen_lock_timeout", "no machine inactivity limit is set (InactivityTimeoutSecs)");
    }
    let antivirus = sys
        .run(
            "powershell",
            &[
                "-NoProfile",
                "-Command",
                "(Get-CimInstance -Namespace root/SecurityCenter2 -ClassName AntiVirusProduct).displayName",
            ],
        )
        .and_then(|o| o.lines().map(str::trim).find(|l| !l.is_empty()).map(str::to_owned))
        .map(|product| Antivirus { product, signature_age_days: None });
    if antivirus.is_none() {
        gap("antivirus", "Windows Security Center did not name an antivirus product");
    }
    let memory_mb = sys
        .run(
            "powershell",
            &["-NoProfile", "-Command", "(Get-CimInstance Win32_ComputerSystem).TotalPhysicalMemory"],
        )
        .and_then(|o| o.trim().parse::<u64>().ok())
        .map_or(0, |b| b / (1024 * 1024));
    if memory_mb == 0 {
        gap("memory", "PowerShell's CIM did not answer");
    }
    let disk_encryption = sys.run("manage-bde", &["-status", "C:"]).map(|o| o.contains("Protection On"));
    if disk_encryption.is_none() {
        gap("disk_encryption", "manage-bde needs administrator rights or is missing");
    }
    let local_admins =
        sys.run("net", &["localgroup", "Administrators"]).map(|o| group_members(&o)).unwrap_or_default();
    let build = [version.get("CurrentBuild"), version.get("UBR")]
        .into_iter()
        .flatten()
        .map(|v| {
            u64::from_str_radix(v.trim_start_matches("0x"), if v.starts_with("0x") { 16 } else { 10 })
                .map_or_else(|_| v.clone(), |n| n.to_string())
        })
        .collect::<Vec<_>>()
        .join(".");
    Inventory {
        hostname: std::env::var("COMPUTERNAME").unwrap_or_default(),
        os_family: "windows".into(),
        os_name: version.get("ProductName").cloned().unwrap_or_else(|| "Windows".into()),
        os_version: version.get("DisplayVersion").cloned().unwrap_or_default(),
        os_build: build,
        uptime_secs: 0,
        cpu_model: std::env::var("PROCESSOR_IDENTIFIER").ok(),
        cpu_count: sys.cpu_count(),
        memory_mb,
        disk_encryption,
        firewall_enabled,
        screen_lock_timeout_secs,
        antivirus,
        local_admins,
        software: installed_software(&outputs),
        unavailable,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const UNINSTALL: &str = "\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\7-Zip\r\n    DisplayName    REG_SZ    7-Zip 23.01 (x64)\r\n    DisplayVersion    REG_SZ    23.01\r\n\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{GUID}\r\n    DisplayName    REG_SZ    Microsoft Edge Update Helper\r\n    SystemComponent    REG_DWORD    0x1\r\n\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\AnyDesk\r\n    DisplayName    REG_SZ    AnyDesk\r\n    DisplayVersion    REG_SZ    ad 8.0.8\r\n\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\NoName\r\n    Publisher    REG_SZ    Nobody\r\n";

    #[test]
    fn parses_windows_tool_output() {
        let software = installed_software(&[UNINSTALL.to_owned()]);
        let names: Vec<&str> = software.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            vec!["7-Zip 23.01 (x64)", "AnyDesk"],
            "system components and nameless keys left out"
        );
        let members = group_members(
            "Alias name     Administrators\r\nComment        Administrators have complete access\r\n\r\nMembers\r\n\r\n-------------------------------------------------------------------------------\r\nAdministrator\r\nCONTOSO\\tanaka\r\nThe command completed successfully.\r\n",
        );
        assert_eq!(members, vec!["Administrator", "CONTOSO\\tanaka"]);
        let netsh = "\r\nDomain Profile Settings:\r\n----------------------------------------------------------------------\r\nState                                 ON\r\n\r\nPrivate Profile Settings:\r\nState                                 ON\r\n\r\nPublic Profile Settings:\r\nState                                 OFF\r\nOk.\r\n";
        assert_eq!(firewall_on(netsh), Some(false), "one profile off is off");
        assert_eq!(firewall_on(&netsh.replace("OFF", "ON")), Some(true));
        assert_eq!(firewall_on("garbage"), None);
    }
}
