//! SSHSIG signing (in process or through `ssh-keygen -Y sign`) and in-process
//! verification for the `autonomy-approval` namespace.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ssh_key::{Algorithm, EcdsaCurve, HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};
use thiserror::Error;

use super::refusal::Refusal;

/// SSHSIG namespace of approval signatures.
pub const NAMESPACE: &str = "autonomy-approval";

/// Hash algorithm used when signing in process (the `ssh-keygen` default).
const SIGN_HASH: HashAlg = HashAlg::Sha512;

/// Why a signature could not be made.
#[derive(Debug, Error)]
pub enum SignError {
    /// The key file could not be read.
    #[error("cannot read key file {}: {source}", path.display())]
    ReadKey {
        /// The key file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The text is not an OpenSSH private key.
    #[error("not an OpenSSH private key: {0}")]
    InvalidKey(String),
    /// The key is passphrase protected.
    #[error(
        "the private key is encrypted; in-process signing needs an unencrypted key, sign with ssh-keygen (and ssh-agent) instead"
    )]
    EncryptedKey,
    /// The key type cannot be used in process.
    #[error(
        "in-process signing supports ed25519 and ecdsa keys, not {0}; sign with ssh-keygen instead"
    )]
    UnsupportedKey(String),
    /// Signing itself failed.
    #[error("signing failed: {0}")]
    Signing(String),
    /// `ssh-keygen` is not installed or not on `PATH`.
    #[error("ssh-keygen was not found on PATH; install OpenSSH to sign with this key")]
    SshKeygenMissing,
    /// `ssh-keygen` could not be run or its output not handled.
    #[error("running ssh-keygen failed: {0}")]
    SshKeygenIo(std::io::Error),
    /// `ssh-keygen` exited unsuccessfully.
    #[error("ssh-keygen -Y sign failed ({status}): {stderr}")]
    SshKeygenFailed {
        /// Exit status as text.
        status: String,
        /// Its standard error, trimmed.
        stderr: String,
    },
    /// `ssh-keygen` produced something that is not an SSH signature.
    #[error("ssh-keygen produced an unreadable signature: {0}")]
    SshKeygenOutput(String),
}

/// The key that made a verified signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedKey {
    /// The public key (without comment).
    pub public_key: PublicKey,
    /// `SHA256:...` fingerprint, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
}

/// Sign `message` in process with an unencrypted ed25519 or ecdsa OpenSSH
/// private key; returns the armored signature (`-----BEGIN SSH SIGNATURE-----`).
pub fn sign_in_process(private_key_openssh: &str, message: &[u8]) -> Result<String, SignError> {
    let key = PrivateKey::from_openssh(private_key_openssh)
        .map_err(|e| SignError::InvalidKey(e.to_string()))?;
    if key.is_encrypted() {
        return Err(SignError::EncryptedKey);
    }
    if !signs_in_process(&key.algorithm()) {
        return Err(SignError::UnsupportedKey(key.algorithm().to_string()));
    }
    let sig = SshSig::sign(&key, NAMESPACE, SIGN_HASH, message)
        .map_err(|e| SignError::Signing(e.to_string()))?;
    sig.to_pem(LineEnding::LF)
        .map_err(|e| SignError::Signing(e.to_string()))
}

/// Sign `message` by running `ssh-keygen -Y sign -f KEY -n autonomy-approval`
/// on a temporary file. Works for every key `ssh-keygen` can use, including
/// RSA, encrypted keys (through `ssh-agent` or a passphrase prompt on the
/// terminal) and hardware keys. `key_path` may also name a public key whose
/// private half is in `ssh-agent`.
pub fn sign_with_ssh_keygen(key_path: &Path, message: &[u8]) -> Result<String, SignError> {
    let dir = tempfile::tempdir().map_err(SignError::SshKeygenIo)?;
    let message_path = dir.path().join("statement");
    std::fs::write(&message_path, message).map_err(SignError::SshKeygenIo)?;

    let output = Command::new("ssh-keygen")
        .arg("-Y")
        .arg("sign")
        .arg("-n")
        .arg(NAMESPACE)
        .arg("-f")
        .arg(key_path)
        .arg(&message_path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| match e.kind() {
            ErrorKind::NotFound => SignError::SshKeygenMissing,
            _ => SignError::SshKeygenIo(e),
        })?;
    if !output.status.success() {
        return Err(SignError::SshKeygenFailed {
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }

    let sig_path = dir.path().join("statement.sig");
    let pem = std::fs::read_to_string(&sig_path).map_err(SignError::SshKeygenIo)?;
    let sig = SshSig::from_pem(&pem).map_err(|e| SignError::SshKeygenOutput(e.to_string()))?;
    if sig.namespace() != NAMESPACE {
        return Err(SignError::SshKeygenOutput(format!(
            "namespace is {:?}",
            sig.namespace()
        )));
    }
    Ok(pem)
}

/// Sign `message` with the key at `key_path`: in process when it is an
/// unencrypted ed25519 or ecdsa OpenSSH key, otherwise through `ssh-keygen`.
pub fn sign(key_path: &Path, message: &[u8]) -> Result<String, SignError> {
    let text = std::fs::read(key_path).map_err(|source| SignError::ReadKey {
        path: key_path.to_owned(),
        source,
    })?;
    let in_process = std::str::from_utf8(&text)
        .ok()
        .and_then(|t| PrivateKey::from_openssh(t).ok())
        .filter(|key| !key.is_encrypted() && signs_in_process(&key.algorithm()));
    match in_process {
        Some(key) => {
            let sig = SshSig::sign(&key, NAMESPACE, SIGN_HASH, message)
                .map_err(|e| SignError::Signing(e.to_string()))?;
            sig.to_pem(LineEnding::LF)
                .map_err(|e| SignError::Signing(e.to_string()))
        }
        None => sign_with_ssh_keygen(key_path, message),
    }
}

fn signs_in_process(algorithm: &Algorithm) -> bool {
    matches!(
        algorithm,
        Algorithm::Ed25519
            | Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP256 | EcdsaCurve::NistP384 | EcdsaCurve::NistP521
            }
    )
}

/// Verify an armored SSHSIG over `message` and return the key that made it.
///
/// The key is the one embedded in the signature: verification proves only
/// that its holder signed `message`. Whether that key may approve anything
/// is for `allowed_signers` to decide.
pub fn verify_signature(message: &[u8], pem: &str) -> Result<VerifiedKey, Refusal> {
    let sig = SshSig::from_pem(pem)
        .map_err(|e| Refusal::Malformed(format!("unreadable SSH signature: {e}")))?;
    let public_key = PublicKey::from(sig.public_key().clone());
    // Verify under the namespace the signature claims, so that a genuine
    // signature made for another purpose is reported as such.
    public_key
        .verify(sig.namespace(), message, &sig)
        .map_err(|_| Refusal::BadSignature)?;
    if sig.namespace() != NAMESPACE {
        return Err(Refusal::WrongNamespace {
            found: sig.namespace().to_owned(),
        });
    }
    let fingerprint = public_key.fingerprint(HashAlg::Sha256).to_string();
    Ok(VerifiedKey {
        public_key,
        fingerprint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_key() -> String {
        let key = PrivateKey::from(ssh_key::private::Ed25519Keypair::from_seed(&[7; 32]));
        key.to_openssh(LineEnding::LF).expect("encode").to_string()
    }

    #[test]
    fn sign_and_verify_in_process() {
        let pem = sign_in_process(&test_key(), b"hello\n").expect("signs");
        assert!(pem.starts_with("-----BEGIN SSH SIGNATURE-----\n"));
        assert!(pem.ends_with("-----END SSH SIGNATURE-----\n"));
        let key = verify_signature(b"hello\n", &pem).expect("verifies");
        assert!(
            key.fingerprint.starts_with("SHA256:"),
            "{}",
            key.fingerprint
        );
        assert_eq!(key.fingerprint.len(), 7 + 43);
        assert_eq!(
            verify_signature(b"hello!\n", &pem),
            Err(Refusal::BadSignature)
        );
    }

    #[test]
    fn wrong_namespace_is_distinct() {
        let key = PrivateKey::from_openssh(test_key()).expect("key");
        let sig = SshSig::sign(&key, "git", HashAlg::Sha512, b"m").expect("sign");
        let pem = sig.to_pem(LineEnding::LF).expect("pem");
        assert_eq!(
            verify_signature(b"m", &pem),
            Err(Refusal::WrongNamespace {
                found: "git".to_owned()
            })
        );
        // A forged signature under another namespace is just a bad signature.
        assert_eq!(verify_signature(b"other", &pem), Err(Refusal::BadSignature));
    }

    #[test]
    fn garbage_signature_is_malformed() {
        let err = verify_signature(
            b"m",
            "-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n",
        )
        .expect_err("garbage");
        assert!(matches!(err, Refusal::Malformed(_)), "{err:?}");
    }

    #[test]
    fn rejects_non_keys() {
        let err = sign_in_process("not a key", b"m").expect_err("not a key");
        assert!(matches!(err, SignError::InvalidKey(_)), "{err}");
    }
}
