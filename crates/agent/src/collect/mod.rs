//! Inventory collectors. Each reads the OS through [`System`], so its parsing is tested with
//! canned files and command outputs; what a collector cannot learn on this PC is left out of
//! the report and named in `unavailable` with the reason.

#[cfg(target_os = "linux")]
pub mod linux;
#[cfg(target_os = "linux")]
pub mod usb;

use mamori_proto::agent::Inventory;
use std::path::Path;

/// The OS as collectors see it: files, commands, file ages.
pub trait System {
    fn read(&self, path: &str) -> Option<String>;
    /// A command's standard output, if it ran and succeeded.
    fn run(&self, program: &str, args: &[&str]) -> Option<String>;
    /// Days since a file was modified.
    fn age_days(&self, path: &str) -> Option<u32>;
    fn cpu_count(&self) -> u32;
}

/// The real machine.
pub struct Host;

impl System for Host {
    fn read(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }

    fn run(&self, program: &str, args: &[&str]) -> Option<String> {
        let out = std::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn age_days(&self, path: &str) -> Option<u32> {
        let modified = std::fs::metadata(Path::new(path)).ok()?.modified().ok()?;
        let age = crate::system_now().duration_since(modified).ok()?;
        u32::try_from(age.as_secs() / 86_400).ok()
    }

    fn cpu_count(&self) -> u32 {
        std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX))
    }
}

/// The inventory of this PC.
pub fn inventory(sys: &dyn System) -> Inventory {
    #[cfg(target_os = "linux")]
    {
        linux::inventory(sys)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let mut unavailable = std::collections::BTreeMap::new();
        unavailable
            .insert("all".to_owned(), "this build of the agent has no collectors for this OS yet".to_owned());
        Inventory {
            hostname: std::env::var("COMPUTERNAME").unwrap_or_default(),
            os_family: "windows".into(),
            os_name: String::new(),
            os_version: String::new(),
            os_build: String::new(),
            uptime_secs: 0,
            cpu_model: None,
            cpu_count: sys.cpu_count(),
            memory_mb: 0,
            disk_encryption: None,
            firewall_enabled: None,
            screen_lock_timeout_secs: None,
            antivirus: None,
            local_admins: Vec::new(),
            software: Vec::new(),
            unavailable,
        }
    }
}
