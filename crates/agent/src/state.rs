//! What the agent keeps on the PC: its device key (never sent anywhere), the server's address
//! and its device id, and the server's CA certificate it pins. All in one directory, private to
//! the service account.

use anyhow::{Context, Result, bail};
use mamori_crypto::device_auth::DeviceKey;
use std::path::{Path, PathBuf};

const KEY_FILE: &str = "device.key";
const CONFIG_FILE: &str = "agent.json";
const CA_FILE: &str = "server-ca.pem";
const SHIFTS_FILE: &str = "shifts.json";

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AgentConfig {
    pub server: String,
    pub device_id: String,
}

/// The default state directory: the system's for a service (root), else the user's.
pub fn default_dir() -> PathBuf {
    if cfg!(windows) {
        let base =
            std::env::var_os("ProgramData").map_or_else(|| PathBuf::from(r"C:\ProgramData"), PathBuf::from);
        return base.join("Mamori").join("agent");
    }
    if std::env::var_os("MAMORI_AGENT_SYSTEM").is_some() || is_root() {
        return PathBuf::from("/var/lib/mamori-agent");
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local").join("state")));
    base.unwrap_or_else(|| PathBuf::from(".")).join("mamori-agent")
}

/// Where desktop helpers find the system service.
#[cfg(unix)]
pub const DEFAULT_HELPER_SOCKET: &str = "/run/mamori-agent/session.sock";
#[cfg(windows)]
pub const DEFAULT_HELPER_SOCKET: &str = r"\\.\pipe\mamori-agent-session";

/// Where the service listens for desktop helpers: the system-wide place for the system service
/// (helpers of any user find it), else beside the state (a named pipe is always system-wide).
pub fn default_session_socket(state_dir: &Path) -> PathBuf {
    if cfg!(windows) || std::env::var_os("MAMORI_AGENT_SYSTEM").is_some() || is_root() {
        return PathBuf::from(DEFAULT_HELPER_SOCKET);
    }
    state_dir.join("session.sock")
}

fn is_root() -> bool {
    // The owner of /proc/self is the process's user.
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// Writes a file readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f =
            std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    #[cfg(not(unix))]
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

pub struct State {
    dir: PathBuf,
}

impl State {
    pub fn new(dir: PathBuf) -> Self {
        State { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Saves everything enrolment produced.
    pub fn save(&self, key: &DeviceKey, config: &AgentConfig, ca_pem: &[u8]) -> Result<()> {
        std::fs::create_dir_all(&self.dir).with_context(|| format!("creating {}", self.dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))?;
        }
        write_private(&self.dir.join(KEY_FILE), &key.seed()[..])?;
        write_private(&self.dir.join(CA_FILE), ca_pem)?;
        write_private(&self.dir.join(CONFIG_FILE), &serde_json::to_vec_pretty(config)?)?;
        Ok(())
    }

    /// Loads the enrolled identity, or says to enrol.
    pub fn load(&self) -> Result<(DeviceKey, AgentConfig, Vec<u8>)> {
        let not_enrolled = || {
            format!(
                "this PC is not enrolled (nothing in {}): run `mamori-agent enroll --server URL --token T --ca FILE`",
                self.dir.display()
            )
        };
        let seed = std::fs::read(self.dir.join(KEY_FILE)).with_context(not_enrolled)?;
        let Ok(seed) = <[u8; 32]>::try_from(seed.as_slice()) else {
            bail!("{} is damaged: enrol this PC again", self.dir.join(KEY_FILE).display());
        };
        let config: AgentConfig =
            serde_json::from_slice(&std::fs::read(self.dir.join(CONFIG_FILE)).with_context(not_enrolled)?)
                .with_context(|| {
                    format!("{} is damaged: enrol this PC again", self.dir.join(CONFIG_FILE).display())
                })?;
        let ca = std::fs::read(self.dir.join(CA_FILE)).with_context(not_enrolled)?;
        Ok((DeviceKey::from_seed(&seed), config, ca))
    }

    /// The operator's shifts as last heard from the server; none (collect nothing) before that.
    pub fn load_shifts(&self) -> mamori_domain::activity::ShiftSchedule {
        std::fs::read(self.dir.join(SHIFTS_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn save_shifts(&self, shifts: &mamori_domain::activity::ShiftSchedule) -> Result<()> {
        write_private(&self.dir.join(SHIFTS_FILE), &serde_json::to_vec(shifts)?)
    }
}
