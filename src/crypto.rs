//! Encryption of sensitive personal data at rest (national ID): AES-256-GCM with a
//! random nonce per value, and the row it belongs to as associated data, so a value
//! copied into another row does not decrypt. The same key, through its own derived key,
//! signs short-lived codes (HMAC-SHA256): the member card.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

#[derive(Clone)]
pub struct Cipher {
    aead: Aes256Gcm,
    /// For [`Cipher::mac`]: derived from the key, never the key itself.
    mac_key: [u8; 32],
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(****)")
    }
}

impl Cipher {
    /// From a base64 key of 32 bytes.
    pub fn from_base64(key: &str) -> anyhow::Result<Cipher> {
        let bytes = STANDARD
            .decode(key.trim())
            .map_err(|_| anyhow::anyhow!("encryption_key must be base64"))?;
        anyhow::ensure!(
            bytes.len() == 32,
            "encryption_key must be 32 bytes (base64 of 32 random bytes)"
        );
        use sha2::Digest;
        let mac_key = sha2::Sha256::new()
            .chain_update(b"loyal signing key\0")
            .chain_update(&bytes)
            .finalize()
            .into();
        Ok(Cipher {
            aead: Aes256Gcm::new_from_slice(&bytes)
                .map_err(|_| anyhow::anyhow!("bad key length"))?,
            mac_key,
        })
    }

    /// The configured key, or the key file in the data directory (created on first use,
    /// readable by the owner only). Servers sharing one database must share the key:
    /// set `encryption_key` on all of them.
    pub fn load(configured: &str, data_dir: &Path) -> anyhow::Result<Cipher> {
        if !configured.is_empty() {
            return Self::from_base64(configured);
        }
        let path = data_dir.join("encryption.key");
        if let Ok(existing) = std::fs::read_to_string(&path) {
            return Self::from_base64(&existing);
        }
        crate::files::private_dir(data_dir)?;
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        let encoded = STANDARD.encode(key);
        let mut file = crate::files::private_file()
            .write(true)
            .create_new(true)
            .open(&path)?;
        std::io::Write::write_all(&mut file, encoded.as_bytes())?;
        file.sync_all()?;
        tracing::warn!(path = %path.display(), "created a new encryption key; back it up with the database");
        Self::from_base64(&encoded)
    }

    pub fn encrypt(&self, plaintext: &str, context: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .aead
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM encryption does not fail");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        STANDARD.encode(out)
    }

    pub fn decrypt(&self, sealed: &str, context: &str) -> Option<String> {
        let bytes = STANDARD.decode(sealed).ok()?;
        if bytes.len() < 12 {
            return None;
        }
        let (nonce, body) = bytes.split_at(12);
        let plain = self
            .aead
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: context.as_bytes(),
                },
            )
            .ok()?;
        String::from_utf8(plain).ok()
    }

    /// HMAC-SHA256 of `message` under this server's signing key.
    pub fn mac(&self, message: &str) -> [u8; 32] {
        use hmac::Mac;
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.mac_key)
            .expect("HMAC takes a key of any length");
        mac.update(message.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_only_in_their_own_row() {
        let c = Cipher::from_base64(&STANDARD.encode([7u8; 32])).unwrap();
        let sealed = c.encrypt("1101700203451", "member:1:2");
        assert!(!sealed.contains("1101700203451"));
        assert_ne!(
            sealed,
            c.encrypt("1101700203451", "member:1:2"),
            "a fresh nonce each time"
        );
        assert_eq!(
            c.decrypt(&sealed, "member:1:2").as_deref(),
            Some("1101700203451")
        );
        assert_eq!(c.decrypt(&sealed, "member:1:3"), None, "bound to its row");
        let other = Cipher::from_base64(&STANDARD.encode([8u8; 32])).unwrap();
        assert_eq!(other.decrypt(&sealed, "member:1:2"), None);
        assert!(Cipher::from_base64("c2hvcnQ=").is_err());
    }

    #[test]
    fn a_key_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = Cipher::load("", dir.path()).unwrap();
        let b = Cipher::load("", dir.path()).unwrap();
        assert_eq!(b.decrypt(&a.encrypt("x", "c"), "c").as_deref(), Some("x"));
    }
}
