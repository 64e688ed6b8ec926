//! Editing an allowed-signers file line by line (`autonomy signers add/remove`): the rest
//! of the file (comments, options, other lines) is kept byte for byte, and every result is
//! checked with the strict parser before it may be written.

use super::allowed_signers::AllowedSigners;
use crate::error::{Error, Result};
use ssh_key::{HashAlg, PublicKey};

/// A principal as a signer line may name it: no whitespace, quotes, commas or patterns
/// (a pattern would trust more identities than the one named).
pub fn check_principal(principal: &str) -> Result<()> {
    let bad = principal.is_empty()
        || principal.len() > 256
        || principal.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '"' | ',' | '*' | '?' | '!' | '#')
        });
    if bad {
        return Err(Error::usage(format!(
            "{principal:?} is not a principal a signer line can name: no spaces, quotes, commas, `#` or wildcards"
        ))
        .hint("name one identity, as approvals carry it (e.g. alice@example.com)"));
    }
    Ok(())
}

/// The public key in `text` (a `.pub` file: `keytype base64 [comment]`).
pub fn parse_public_key(text: &str, name: &str) -> Result<PublicKey> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or_else(|| Error::failed(format!("{name} holds no public key")))?;
    PublicKey::from_openssh(line).map_err(|e| {
        Error::failed(format!(
            "{name} is not an SSH public key ({e}); expected a line like `ssh-ed25519 AAAA… comment`"
        ))
        .hint("pass the .pub file (e.g. ~/.ssh/id_ed25519.pub), not the private key")
    })
}

pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// What an edit did.
#[derive(Debug, PartialEq, Eq)]
pub enum Edit {
    Changed(String),
    /// Nothing to do (the line is already there).
    Unchanged,
}

/// `text` with a line trusting `key` for `principal` (for the autonomy-approval namespace
/// only, so a key listed here signs approvals and nothing else) appended.
pub fn add(text: &str, principal: &str, key: &PublicKey) -> Result<Edit> {
    check_principal(principal)?;
    let current = parse(text)?;
    let listed = current.entries().iter().any(|e| {
        !e.cert_authority
            && e.key.key_data() == key.key_data()
            && e.principals.split(',').any(|p| p == principal)
    });
    if listed {
        return Ok(Edit::Unchanged);
    }
    let mut out = text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    let comment = key.comment().trim();
    let mut line = format!(
        "{principal} namespaces=\"{}\" {}",
        super::sshsig::NAMESPACE,
        key.to_openssh()
            .map_err(|e| Error::failed(format!("encoding the public key: {e}")))?
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    );
    if !comment.is_empty() && !comment.contains(['\n', '\r']) {
        line.push(' ');
        line.push_str(comment);
    }
    out.push_str(&line);
    out.push('\n');
    parse(&out)?;
    Ok(Edit::Changed(out))
}

/// `text` without `principal`: lines naming only it go; lines naming others too keep the
/// others. With `key` (a fingerprint), only lines with that key. Err when none matched.
pub fn remove(text: &str, principal: &str, key: Option<&str>) -> Result<String> {
    let current = parse(text)?;
    let mut hit = false;
    let mut lines: Vec<String> = Vec::new();
    let raw_lines: Vec<&str> = text.split('\n').collect();
    for (index, raw) in raw_lines.iter().enumerate() {
        let entry = current.entries().iter().find(|e| e.line == index + 1);
        let matches = entry.is_some_and(|e| {
            e.principals.split(',').any(|p| p == principal)
                && key.is_none_or(|k| fingerprint(&e.key) == k)
        });
        if !matches {
            lines.push(raw.to_string());
            continue;
        }
        hit = true;
        let entry = entry.expect("matched above");
        let rest: Vec<&str> = entry
            .principals
            .split(',')
            .filter(|p| *p != principal)
            .collect();
        if rest.is_empty() {
            continue;
        }
        // The principals are the line's first field (maybe quoted): replace just it.
        let body = raw.trim_start();
        let end = if let Some(quoted) = body.strip_prefix('"') {
            quoted.find('"').map_or(body.len(), |i| i + 2)
        } else {
            body.find(char::is_whitespace).unwrap_or(body.len())
        };
        lines.push(format!("{}{}", rest.join(","), &body[end..]));
    }
    if !hit {
        let listed: Vec<String> = current
            .entries()
            .iter()
            .map(|e| format!("  {} {}", e.principals, fingerprint(&e.key)))
            .collect();
        return Err(Error::failed(format!(
            "{principal}{} is not an allowed signer; the file lists:\n{}",
            key.map(|k| format!(" with key {k}")).unwrap_or_default(),
            if listed.is_empty() {
                "  (no one)".to_string()
            } else {
                listed.join("\n")
            }
        )));
    }
    let out = lines.join("\n");
    parse(&out)?;
    Ok(out)
}

fn parse(text: &str) -> Result<AllowedSigners> {
    AllowedSigners::parse(text).map_err(|e| {
        Error::failed(format!("the allowed-signers file: {e}"))
            .hint("fix the file by hand first (git's allowed_signers format)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice";

    #[test]
    fn add_then_remove_is_the_identity_on_the_rest_of_the_file() {
        let key = parse_public_key(ALICE, "key").unwrap();
        let start = "# trusted reviewers\nbob@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n";
        let Edit::Changed(added) = add(start, "alice@example.com", &key).unwrap() else {
            panic!("not added");
        };
        assert!(added.starts_with(start));
        assert!(added.ends_with(
            "alice@example.com namespaces=\"autonomy-approval\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice\n"
        ));
        assert_eq!(
            add(&added, "alice@example.com", &key).unwrap(),
            Edit::Unchanged
        );
        assert_eq!(remove(&added, "alice@example.com", None).unwrap(), start);
        assert!(remove(start, "carol@example.com", None).is_err());
    }

    #[test]
    fn removing_one_of_several_principals_keeps_the_others() {
        let text = "a@x,b@x ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl c\n";
        assert_eq!(
            remove(text, "a@x", None).unwrap(),
            "b@x ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl c\n"
        );
        assert!(check_principal("*@x").is_err());
        assert!(check_principal("a b").is_err());
    }
}
