//! Saved connection profiles and preferences, as JSON in the user's config folder; never a password.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A broker to connect to. There is deliberately no password field: passwords are typed in the
/// dialog, kept in the OS keyring ([`crate::secrets`]) or read from an environment variable named
/// here, and never written to this file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Profile {
    pub name: String,
    pub broker_url: String,
    pub username: String,
    /// Read the password from this environment variable when connecting (optional).
    pub password_env: String,
    /// The password is kept in the OS keyring under this profile's name, broker URL and user
    /// name (a flag only: the password itself is never in the settings).
    pub remember_password: bool,
    /// Empty: a fresh unique observer id per connection.
    pub client_id: String,
    pub ca_file: String,
    pub client_cert: String,
    pub client_key: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub profiles: Vec<Profile>,
    pub last_profile: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read settings from {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("settings file {path} is not valid: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot write settings to {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// `$MESHSCOPE_CONFIG_DIR`, else `$XDG_CONFIG_HOME/meshscope`, else `~/.config/meshscope`.
pub fn config_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MESHSCOPE_CONFIG_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME") {
        return PathBuf::from(dir).join("meshscope");
    }
    std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".config").join("meshscope"))
        .unwrap_or_else(|| PathBuf::from(".meshscope"))
}

pub fn settings_path() -> PathBuf {
    config_dir().join("settings.json")
}

impl Settings {
    /// A missing file is an empty settings; a broken one is an error (the caller shows it and keeps defaults).
    pub fn load(path: &Path) -> Result<Settings, SettingsError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| SettingsError::Parse {
                path: path.to_owned(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(source) => Err(SettingsError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Writes atomically (temp file + rename) so a crash never leaves half a file.
    pub fn save(&self, path: &Path) -> Result<(), SettingsError> {
        let write_err = |source| SettingsError::Write {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(write_err)?;
        }
        let text =
            serde_json::to_vec_pretty(self).map_err(|e| write_err(std::io::Error::other(e)))?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(write_err)?;
        std::fs::rename(&tmp, path).map_err(write_err)
    }

    /// Adds or replaces the profile with the same name.
    pub fn upsert(&mut self, profile: Profile) {
        self.last_profile = Some(profile.name.clone());
        match self.profiles.iter_mut().find(|p| p.name == profile.name) {
            Some(existing) => *existing = profile,
            None => self.profiles.push(profile),
        }
        self.profiles.sort_by(|a, b| a.name.cmp(&b.name));
    }

    pub fn remove(&mut self, name: &str) {
        self.profiles.retain(|p| p.name != name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_never_contains_a_password_field() {
        let dir = std::env::temp_dir().join(format!("meshscope-settings-{}", std::process::id()));
        let path = dir.join("settings.json");
        let mut settings = Settings::default();
        settings.upsert(Profile {
            name: "prod".into(),
            broker_url: "mqtts://broker.example:8883".into(),
            username: "ops".into(),
            password_env: "MESH_PW".into(),
            remember_password: true,
            ..Profile::default()
        });
        settings.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.to_lowercase().contains("\"password\""));
        // The keyring flag is saved; the password itself has nowhere to go.
        assert!(text.contains("\"remember_password\": true"));
        assert_eq!(Settings::load(&path).unwrap(), settings);
        std::fs::write(&path, b"{not json").unwrap();
        assert!(matches!(
            Settings::load(&path),
            Err(SettingsError::Parse { .. })
        ));
        std::fs::remove_dir_all(&dir).ok();
    }
}
