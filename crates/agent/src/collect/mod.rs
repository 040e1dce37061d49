//! Inventory collectors. Each reads the OS through [`System`], so its parsing is tested with
//! canned files and command outputs; what a collector cannot learn on this PC is left out of
//! the report and named in `unavailable` with the reason.

#[cfg(target_os = "linux")]
pub mod linux;
pub mod usb;
#[cfg(target_os = "linux")]
pub mod x11;
// The only unsafe code in Mamori: calls into Win32 (hooks, pipes, tokens), each with its SAFETY
// note (docs/design-notes.md).
#[cfg(windows)]
#[allow(unsafe_code)]
pub mod win32;
// Built everywhere so its parsers are tested on the CI's Linux too; used on Windows.
#[cfg_attr(not(windows), allow(dead_code))]
pub mod windows;

use mamori_proto::agent::Inventory;
use std::path::Path;

/// The OS as collectors see it: files, commands, file ages.
#[cfg_attr(windows, allow(dead_code))]
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
        windows::inventory(sys)
    }
}
