//! Signed approvals end to end with the real binary and the real `ssh-keygen`: interop
//! both ways, one test per refusal reason, k-of-n counting, rules, plan bundles, and the
//! allowed_signers parser. `interop` holds the library-level tests against
//! `autonomy::policy::approval` (ported from the standalone approval crate).

mod interop;

use crate::common::*;
use autonomy::policy::approval::allowed_signers::{self, ParseErrorKind};
use autonomy::policy::approval::refusal::Refusal;
use autonomy::util::hash::sha256_hex;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";
const MALLORY: &str = "mallory@example.com";
const NS: &str = "autonomy-approval";
const BEGIN: &str = "-----BEGIN SSH SIGNATURE-----";

// ---------------------------------------------------------------------------------------
// Helpers: keys, allowed_signers, rules, signing, applying.

/// An SSH key pair made by `ssh-keygen` (unencrypted).
pub struct Key {
    pub path: PathBuf,
    /// The `.pub` line without its trailing newline.
    pub public: String,
}

impl Key {
    /// `ssh-keygen -q -N '' -C NAME ARGS -f DIR/NAME`.
    pub fn generate(dir: &Path, name: &str, args: &[&str]) -> Key {
        std::fs::create_dir_all(dir).expect("mkdir keys");
        let path = dir.join(name);
        run_ok(
            Command::new("ssh-keygen")
                .args(["-q", "-N", "", "-C", name])
                .args(args)
                .arg("-f")
                .arg(&path),
        );
        let public = std::fs::read_to_string(dir.join(format!("{name}.pub")))
            .expect("read .pub")
            .trim_end()
            .to_string();
        Key { path, public }
    }

    /// `SHA256:...` as `ssh-keygen -l` prints it.
    pub fn fingerprint(&self) -> String {
        let out = run_ok(
            Command::new("ssh-keygen")
                .arg("-l")
                .arg("-f")
                .arg(format!("{}.pub", self.path.display())),
        );
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .nth(1)
            .expect("fingerprint")
            .to_string()
    }

    /// One allowed_signers line: `PRINCIPALS [OPTIONS] KEY`.
    pub fn line(&self, principals_and_options: &str) -> String {
        format!("{principals_and_options} {}", self.public)
    }
}

/// Run a command that must succeed; returns its output.
fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run command");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn keys_dir(env: &Env) -> PathBuf {
    env.tmp.path().join("keys")
}

fn ed25519(env: &Env, name: &str) -> Key {
    Key::generate(&keys_dir(env), name, &["-t", "ed25519"])
}

fn ecdsa(env: &Env, name: &str) -> Key {
    Key::generate(&keys_dir(env), name, &["-t", "ecdsa", "-b", "256"])
}

fn rsa(env: &Env, name: &str) -> Key {
    Key::generate(&keys_dir(env), name, &["-t", "rsa", "-b", "2048"])
}

/// Write the default allowed_signers file (`.autonomy/allowed_signers`).
fn allow(env: &Env, lines: &[String]) {
    let mut text = String::from("# who may sign approvals\n");
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    std::fs::write(env.path(".autonomy/allowed_signers"), text).expect("write allowed_signers");
}

fn set_rules(env: &Env, toml: &str) {
    env.write("autonomy.toml", toml);
}

/// A rule demanding `n` signed approvals for `deploy/**`.
fn signed_rule(n: u32) -> String {
    format!(
        "[[rule]]\nname = \"production config\"\npaths = [\"deploy/**\"]\napprovals = {n}\nsigned = true\n"
    )
}

const SCALE: &str = r#"
title = "Scale up"
[[action]]
kind = "write"
path = "deploy/app.yml"
content = "replicas: 3\n"
"#;

/// A fresh path outside the workspace.
fn scratch(env: &Env, name: &str) -> PathBuf {
    env.tmp.path().join(format!("{}-{name}", rand_suffix()))
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `autonomy approve ID --sign-with KEY --as PRINCIPAL -o FILE`; returns FILE.
fn sign_with(env: &Env, id: &str, key: &Key, principal: &str) -> PathBuf {
    let out = scratch(env, "signed.approval");
    env.cmd()
        .args(["approve", id, "--as", principal, "--sign-with"])
        .arg(&key.path)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    out
}

/// `autonomy approve ID --statement --as PRINCIPAL`: the statement bytes.
fn statement(env: &Env, id: &str, principal: &str) -> String {
    let out = env
        .cmd()
        .args(["approve", id, "--statement", "--as", principal])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr_of(&out));
    stdout_of(&out)
}

/// `autonomy approve ID --statement ARGS...`: the statement bytes.
fn statement_with(env: &Env, id: &str, args: &[&str]) -> String {
    let out = env
        .cmd()
        .args(["approve", id, "--statement"])
        .args(args)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr_of(&out));
    stdout_of(&out)
}

/// Sign `text` with `ssh-keygen -Y sign -n NS`; returns (statement path, .sig path).
fn keygen_sign(env: &Env, text: &str, key: &Key, ns: &str) -> (PathBuf, PathBuf) {
    let stmt = scratch(env, "stmt");
    std::fs::write(&stmt, text).expect("write statement");
    run_ok(
        Command::new("ssh-keygen")
            .args(["-Y", "sign", "-n", ns, "-f"])
            .arg(&key.path)
            .arg(&stmt)
            .stdin(Stdio::null()),
    );
    let sig = PathBuf::from(format!("{}.sig", stmt.display()));
    (stmt, sig)
}

/// `cat stmt stmt.sig > approval` for a statement signed by `ssh-keygen -Y sign`.
fn cat_approval(env: &Env, text: &str, key: &Key, ns: &str) -> PathBuf {
    let (stmt, sig) = keygen_sign(env, text, key, ns);
    let mut bytes = std::fs::read(&stmt).expect("read statement");
    bytes.extend(std::fs::read(&sig).expect("read sig"));
    let out = scratch(env, "cat.approval");
    std::fs::write(&out, bytes).expect("write approval");
    out
}

/// `autonomy apply ID --approval F...` (no terminal).
fn apply(env: &Env, id: &str, files: &[&Path]) -> Output {
    let mut c = env.cmd();
    c.args(["apply", id]);
    for f in files {
        c.arg("--approval").arg(f);
    }
    c.output().expect("run apply")
}

fn apply_ok(env: &Env, id: &str, files: &[&Path]) {
    let out = apply(env, id, files);
    assert_eq!(out.status.code(), Some(0), "apply: {}", stderr_of(&out));
}

/// Split an approval file at the signature and check it with `ssh-keygen -Y verify`
/// against the workspace's allowed_signers file; returns ssh-keygen's stdout.
fn ssh_keygen_verify(env: &Env, approval: &Path, principal: &str) -> String {
    let text = std::fs::read_to_string(approval).expect("read approval");
    let at = text.find(BEGIN).expect("signature block");
    let stmt = scratch(env, "verify.stmt");
    let sig = scratch(env, "verify.sig");
    std::fs::write(&stmt, &text[..at]).expect("write");
    std::fs::write(&sig, &text[at..]).expect("write");
    let out = run_ok(
        Command::new("ssh-keygen")
            .args(["-Y", "verify", "-n", NS, "-I", principal, "-f"])
            .arg(env.path(".autonomy/allowed_signers"))
            .arg("-s")
            .arg(&sig)
            .stdin(std::fs::File::open(&stmt).expect("open")),
    );
    stdout_of(&out)
}

/// Events oldest first.
fn events(env: &Env) -> Vec<serde_json::Value> {
    let mut ev = env.events();
    ev.sort_by_key(|e| e["seq"].as_i64().unwrap_or(0));
    ev
}

fn of_kind(events: &[serde_json::Value], kind: &str) -> Vec<serde_json::Value> {
    events
        .iter()
        .filter(|e| e["kind"] == kind)
        .cloned()
        .collect()
}

/// Apply must refuse with exit 3, say every one of `words` on stderr, journal a new
/// `approval.refused` event for the plan whose reason says `words[0]`, start no run and
/// leave the workspace byte for byte as it was. Returns stderr.
fn assert_refused(env: &Env, id: &str, files: &[&Path], words: &[&str]) -> String {
    assert_refused_reason(env, id, files, words).0
}

/// [`assert_refused`], also returning the journaled reason.
fn assert_refused_reason(env: &Env, id: &str, files: &[&Path], words: &[&str]) -> (String, String) {
    let tree = env.tree();
    let before = events(env);
    let out = apply(env, id, files);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(3), "want exit 3: {err}");
    for w in words {
        assert!(err.contains(w), "stderr lacks {w:?}:\n{err}");
    }
    assert_eq!(env.tree(), tree, "a refused apply changed the workspace");
    let after = events(env);
    let new: Vec<_> = after[before.len()..].to_vec();
    // Every presented file is journaled as refused (an invalid one with its reason, a
    // valid one as not counted), and none as granted.
    let refused = of_kind(&new, "approval.refused");
    assert_eq!(
        refused.len(),
        files.len(),
        "one approval.refused event per presented file: {new:#?}"
    );
    assert!(
        of_kind(&new, "approval.granted").is_empty(),
        "a refused apply journaled a granted approval: {new:#?}"
    );
    for r in &refused {
        assert_eq!(r["plan"], id, "{r:#?}");
    }
    let reason = refused
        .iter()
        .filter_map(|r| r["data"]["reason"].as_str())
        .find(|r| r.contains(words[0]))
        .unwrap_or_else(|| panic!("no refusal reason says {:?}: {refused:#?}", words[0]));
    assert!(
        of_kind(&new, "run.started").is_empty(),
        "a refused apply started a run"
    );
    (err, reason.to_string())
}

/// A refusal for too few approvals: exit 3, and the journal says "threshold not met".
fn assert_below_threshold(env: &Env, id: &str, files: &[&Path], words: &[&str]) -> String {
    let (err, reason) = assert_refused_reason(env, id, files, words);
    assert!(reason.starts_with("threshold not met: "), "{reason}");
    err
}

/// A workspace with `deploy/app.yml`, a rule demanding `n` signed approvals for it,
/// alice (ed25519) and bob (ecdsa) allowed to sign, and a pending plan changing it.
struct Deploy {
    env: Env,
    alice: Key,
    bob: Key,
    id: String,
}

fn deploy(n: u32) -> Deploy {
    let env = Env::new();
    env.write("deploy/app.yml", "replicas: 2\n");
    set_rules(&env, &signed_rule(n));
    let alice = ed25519(&env, "alice");
    let bob = ecdsa(&env, "bob");
    allow(&env, &[alice.line(ALICE), bob.line(BOB)]);
    let id = env.plan(SCALE);
    Deploy {
        env,
        alice,
        bob,
        id,
    }
}

fn assert_applied(env: &Env) {
    assert_eq!(env.read_str("deploy/app.yml"), "replicas: 3\n");
}

fn assert_not_applied(env: &Env) {
    assert_eq!(env.read_str("deploy/app.yml"), "replicas: 2\n");
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn preview_json(env: &Env, id: &str) -> serde_json::Value {
    let out = env
        .cmd()
        .args(["preview", id, "--format", "json"])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr_of(&out));
    serde_json::from_slice(&out.stdout).expect("json")
}

fn requirement<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["approvals"]["requirements"]
        .as_array()
        .expect("requirements")
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no requirement {name:?} in {doc:#}"))
}

// ---------------------------------------------------------------------------------------
// 1. Interop both ways with the real ssh-keygen.

/// A statement from `approve --statement`, signed by `ssh-keygen -Y sign` and joined with
/// `cat`, is accepted by `apply --approval`; the journal records ssh-keygen's fingerprint.
fn ssh_keygen_signed_statement_applies(make: fn(&Env, &str) -> Key) {
    let d = deploy(1);
    let key = make(&d.env, "signer");
    allow(&d.env, &[key.line(ALICE)]);
    let text = statement(&d.env, &d.id, ALICE);
    assert!(text.starts_with("autonomy-approval v1\n"), "{text}");
    assert!(text.contains(&format!("plan = \"{}\"\n", d.id)), "{text}");
    let file = cat_approval(&d.env, &text, &key, NS);
    apply_ok(&d.env, &d.id, &[&file]);
    assert_applied(&d.env);
    let granted = of_kind(&events(&d.env), "approval.granted");
    assert_eq!(granted.len(), 1, "{granted:#?}");
    assert_eq!(granted[0]["data"]["principal"], ALICE);
    assert_eq!(granted[0]["data"]["key_fingerprint"], key.fingerprint());
    d.env.verify_ok();
}

#[test]
fn ssh_keygen_ed25519_statement_is_accepted() {
    ssh_keygen_signed_statement_applies(ed25519);
}

#[test]
fn ssh_keygen_ecdsa_p256_statement_is_accepted() {
    ssh_keygen_signed_statement_applies(ecdsa);
}

#[test]
fn ssh_keygen_rsa_statement_is_accepted() {
    ssh_keygen_signed_statement_applies(rsa);
}

#[test]
fn signature_flag_wraps_ssh_keygen_output_like_cat() {
    let d = deploy(1);
    let text = statement(&d.env, &d.id, ALICE);
    let (stmt, sig) = keygen_sign(&d.env, &text, &d.alice, NS);
    let wrapped = scratch(&d.env, "wrapped.approval");
    d.env
        .cmd()
        .args(["approve", &d.id, "--signature"])
        .arg(&sig)
        .arg("-o")
        .arg(&wrapped)
        .assert()
        .success();
    let mut cat = std::fs::read(&stmt).expect("stmt");
    cat.extend(std::fs::read(&sig).expect("sig"));
    assert_eq!(std::fs::read(&wrapped).expect("wrapped"), cat);
    // --statement-file names the statement explicitly; same bytes.
    let renamed = scratch(&d.env, "renamed.sig");
    std::fs::copy(&sig, &renamed).expect("copy");
    let wrapped2 = scratch(&d.env, "wrapped2.approval");
    d.env
        .cmd()
        .args(["approve", &d.id, "--signature"])
        .arg(&renamed)
        .arg("--statement-file")
        .arg(&stmt)
        .arg("-o")
        .arg(&wrapped2)
        .assert()
        .success();
    assert_eq!(std::fs::read(&wrapped2).expect("wrapped2"), cat);
    apply_ok(&d.env, &d.id, &[&wrapped]);
    assert_applied(&d.env);
}

#[test]
fn signature_flag_refuses_a_signature_that_does_not_match() {
    let d = deploy(1);
    let text = statement(&d.env, &d.id, ALICE);
    let (stmt, sig) = keygen_sign(&d.env, &text, &d.alice, NS);
    // Another statement (new approval id) under the old signature.
    std::fs::write(&stmt, statement(&d.env, &d.id, ALICE)).expect("write");
    let out = d
        .env
        .cmd()
        .args(["approve", &d.id, "--signature"])
        .arg(&sig)
        .arg("-o")
        .arg(scratch(&d.env, "x.approval"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("does not verify"),
        "{}",
        stderr_of(&out)
    );
}

/// `approve --sign-with` writes a file whose parts pass `ssh-keygen -Y verify` against
/// the workspace's own allowed_signers file, and which `apply` accepts.
fn sign_with_passes_ssh_keygen_verify(make: fn(&Env, &str) -> Key) {
    let d = deploy(1);
    let key = make(&d.env, "signer");
    allow(&d.env, &[key.line(&format!("{ALICE},{BOB}"))]);
    let file = sign_with(&d.env, &d.id, &key, ALICE);
    let text = std::fs::read_to_string(&file).expect("read");
    assert!(text.starts_with("autonomy-approval v1\n"), "{text}");
    assert!(
        text.trim_end().ends_with("-----END SSH SIGNATURE-----"),
        "{text}"
    );
    let out = ssh_keygen_verify(&d.env, &file, ALICE);
    assert!(
        out.contains(&format!("Good \"{NS}\" signature for {ALICE}")),
        "{out}"
    );
    assert!(out.contains(&key.fingerprint()), "{out}");
    apply_ok(&d.env, &d.id, &[&file]);
    assert_applied(&d.env);
}

#[test]
fn sign_with_ed25519_passes_ssh_keygen_verify() {
    sign_with_passes_ssh_keygen_verify(ed25519);
}

#[test]
fn sign_with_ecdsa_passes_ssh_keygen_verify() {
    sign_with_passes_ssh_keygen_verify(ecdsa);
}

#[test]
fn sign_with_rsa_falls_back_to_ssh_keygen() {
    sign_with_passes_ssh_keygen_verify(rsa);
}

#[test]
fn sign_with_default_output_and_json() {
    let d = deploy(1);
    let out = d
        .env
        .cmd()
        .args([
            "approve",
            &d.id,
            "--as",
            ALICE,
            "--format",
            "json",
            "--sign-with",
        ])
        .arg(&d.alice.path)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["plan"], d.id.as_str());
    assert_eq!(doc["approver"], ALICE);
    // Default output: .autonomy/approvals/<plan12>.approval, never the workspace's tree
    // (where the next capture would pick it up).
    let default = format!(".autonomy/approvals/{}.approval", &d.id[..12]);
    assert_eq!(doc["file"], default.as_str());
    let file = d.env.path(&default);
    assert!(file.exists());
    let moved = scratch(&d.env, "moved.approval");
    std::fs::rename(&file, &moved).expect("move out of the workspace");
    apply_ok(&d.env, &d.id, &[&moved]);
}

#[test]
fn expires_out_of_range_is_a_usage_error_not_a_panic() {
    let d = deploy(1);
    for ttl in ["300000years", "9000years", "0s"] {
        let out = d
            .env
            .cmd()
            .args(["approve", &d.id, "--statement", "--expires", ttl])
            .output()
            .expect("run");
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "--expires {ttl}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(
            stdout_of(&out).is_empty(),
            "no statement for --expires {ttl}"
        );
    }
    let out = d
        .env
        .cmd()
        .args(["approve", &d.id, "--statement", "--expires", "300000years"])
        .output()
        .expect("run");
    assert!(stderr_of(&out).contains("--expires 300000years is too long"));
    // A long but representable lifetime is fine.
    let text = statement_with(&d.env, &d.id, &["--expires", "100years"]);
    assert!(text.contains("expires = \"21"), "{text}");
}

// ---------------------------------------------------------------------------------------
// 2. One test per refusal reason.

#[test]
fn refuses_bad_signature() {
    let d = deploy(1);
    let file = sign_with(&d.env, &d.id, &d.alice, ALICE);
    let good = std::fs::read_to_string(&file).expect("read");
    // Flip one hex digit of the approval id: still a well-formed statement, but not
    // the bytes that were signed.
    let at = good.find("approval = \"").expect("approval line") + "approval = \"".len();
    let mut bytes = good.clone().into_bytes();
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    let bad = scratch(&d.env, "bad.approval");
    std::fs::write(&bad, bytes).expect("write");
    assert_refused(&d.env, &d.id, &[&bad], &["bad signature", "bad.approval"]);
    // The untouched file still works: the flip was the only fault.
    apply_ok(&d.env, &d.id, &[&file]);
    assert_applied(&d.env);
}

#[test]
fn refuses_wrong_namespace() {
    let d = deploy(1);
    let text = statement(&d.env, &d.id, ALICE);
    let file = cat_approval(&d.env, &text, &d.alice, "git");
    assert_refused(&d.env, &d.id, &[&file], &["wrong namespace", "\"git\""]);
}

#[test]
fn refuses_unknown_principal() {
    let d = deploy(1);
    // A principal that is not listed at all.
    let mallory = ed25519(&d.env, "mallory");
    let file = sign_with(&d.env, &d.id, &mallory, MALLORY);
    assert_refused(&d.env, &d.id, &[&file], &["unknown principal", MALLORY]);
    // A listed principal with a key that is not hers.
    let file = sign_with(&d.env, &d.id, &mallory, ALICE);
    let err = assert_refused(&d.env, &d.id, &[&file], &["unknown principal", ALICE]);
    assert!(err.contains(&mallory.fingerprint()), "{err}");
    // Bob's key signing as alice: the key is listed, for bob, and the refusal says so
    // (the usual slip: signing under the default identity instead of `--as`).
    let file = sign_with(&d.env, &d.id, &d.bob, ALICE);
    let err = assert_refused(&d.env, &d.id, &[&file], &["unknown principal"]);
    assert!(
        err.contains(&format!("that key is listed for \"{BOB}\"")) && err.contains("--as"),
        "{err}"
    );
    // Mallory's key is listed for nobody: no name to suggest.
    assert!(
        !stderr_of(&apply(
            &d.env,
            &d.id,
            &[&sign_with(&d.env, &d.id, &mallory, ALICE)]
        ))
        .contains("listed for")
    );
}

#[test]
fn refuses_key_outside_its_validity_window() {
    let d = deploy(1);
    allow(
        &d.env,
        &[
            d.alice.line(&format!("{ALICE} valid-before=\"20200101Z\"")),
            d.bob.line(&format!("{BOB} valid-after=\"29990101Z\"")),
        ],
    );
    let alice = sign_with(&d.env, &d.id, &d.alice, ALICE);
    assert_refused(
        &d.env,
        &d.id,
        &[&alice],
        &[
            "is no longer valid",
            "valid-before 2020-01-01T00:00:00Z",
            "line 2",
        ],
    );
    let bob = sign_with(&d.env, &d.id, &d.bob, BOB);
    assert_refused(
        &d.env,
        &d.id,
        &[&bob],
        &[
            "is not valid yet",
            "valid-after 2999-01-01T00:00:00Z",
            "line 3",
        ],
    );
    // ssh-keygen agrees with the window.
    let text = std::fs::read_to_string(&alice).expect("read");
    let at = text.find(BEGIN).expect("sig");
    let (stmt, sig) = (scratch(&d.env, "s"), scratch(&d.env, "s.sig"));
    std::fs::write(&stmt, &text[..at]).expect("write");
    std::fs::write(&sig, &text[at..]).expect("write");
    let out = Command::new("ssh-keygen")
        .args(["-Y", "verify", "-n", NS, "-I", ALICE, "-f"])
        .arg(d.env.path(".autonomy/allowed_signers"))
        .arg("-s")
        .arg(&sig)
        .stdin(std::fs::File::open(&stmt).expect("open"))
        .output()
        .expect("ssh-keygen");
    assert!(!out.status.success(), "ssh-keygen accepted an expired key");
    // Inside the window it counts.
    allow(
        &d.env,
        &[d.alice.line(&format!(
            "{ALICE} valid-after=\"20200101Z\",valid-before=\"29990101Z\""
        ))],
    );
    apply_ok(&d.env, &d.id, &[&alice]);
}

#[test]
#[cfg_attr(
    not(feature = "test-hooks"),
    ignore = "needs --features test-hooks (failpoints, the README test command, turns it on): pins AUTONOMY_NOW"
)]
fn refuses_expired_statement() {
    let d = deploy(1);
    let now = chrono::Utc::now();
    // Signed three days ago with the default 24h lifetime.
    let file = scratch(&d.env, "old.approval");
    d.env
        .cmd()
        .env("AUTONOMY_NOW", rfc3339(now - chrono::TimeDelta::days(3)))
        .args(["approve", &d.id, "--as", ALICE, "--sign-with"])
        .arg(&d.alice.path)
        .arg("-o")
        .arg(&file)
        .assert()
        .success();
    assert_refused(&d.env, &d.id, &[&file], &["approval expired at"]);
    // A short lifetime that has run out in real time.
    let short = scratch(&d.env, "short.approval");
    d.env
        .cmd()
        .args([
            "approve",
            &d.id,
            "--as",
            ALICE,
            "--expires",
            "1s",
            "--sign-with",
        ])
        .arg(&d.alice.path)
        .arg("-o")
        .arg(&short)
        .assert()
        .success();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_refused(&d.env, &d.id, &[&short], &["approval expired at"]);
}

#[test]
#[cfg_attr(
    not(feature = "test-hooks"),
    ignore = "needs --features test-hooks (failpoints, the README test command, turns it on): pins AUTONOMY_NOW"
)]
fn refuses_statement_created_in_the_future() {
    let d = deploy(1);
    let file = scratch(&d.env, "future.approval");
    d.env
        .cmd()
        .env(
            "AUTONOMY_NOW",
            rfc3339(chrono::Utc::now() + chrono::TimeDelta::hours(1)),
        )
        .args(["approve", &d.id, "--as", ALICE, "--sign-with"])
        .arg(&d.alice.path)
        .arg("-o")
        .arg(&file)
        .assert()
        .success();
    assert_refused(&d.env, &d.id, &[&file], &["not yet valid", "in the future"]);
}

#[test]
fn refuses_approval_for_another_plan() {
    let d = deploy(1);
    let other = d.env.plan(
        r#"
title = "Scale down"
[[action]]
kind = "write"
path = "deploy/app.yml"
content = "replicas: 1\n"
"#,
    );
    let file = sign_with(&d.env, &other, &d.alice, ALICE);
    assert_refused(
        &d.env,
        &d.id,
        &[&file],
        &[&format!(
            "approval is for plan {}, not for plan {}",
            &other[..12],
            &d.id[..12]
        )],
    );
    // It does approve the plan it names.
    apply_ok(&d.env, &other, &[&file]);
    assert_eq!(d.env.read_str("deploy/app.yml"), "replicas: 1\n");
}

#[test]
fn refuses_approval_from_another_workspace() {
    let d = deploy(1);
    // A second workspace with the same files, rules, signers and plan file.
    let second = Env::new();
    second.write("deploy/app.yml", "replicas: 2\n");
    set_rules(&second, &signed_rule(1));
    allow(&second, &[d.alice.line(ALICE)]);
    let second_id = second.plan(SCALE);
    assert_ne!(second_id, d.id, "plan ids bind the workspace");
    let second_ws = preview_json(&second, &second_id)["plan"]["workspace"]
        .as_str()
        .expect("workspace")
        .to_string();
    // (a) an approval made in the other workspace for its plan.
    let theirs = sign_with(&second, &second_id, &d.alice, ALICE);
    assert_refused(
        &d.env,
        &d.id,
        &[&theirs],
        &["approval is for workspace", &second_ws],
    );
    // (b) a statement for this plan id, but naming the other workspace, signed by a
    // legitimate key.
    let ours = statement(&d.env, &d.id, ALICE);
    let this_ws = preview_json(&d.env, &d.id)["plan"]["workspace"]
        .as_str()
        .expect("workspace")
        .to_string();
    let crafted = ours.replace(
        &format!("workspace = \"{this_ws}\""),
        &format!("workspace = \"{second_ws}\""),
    );
    assert_ne!(crafted, ours);
    let file = cat_approval(&d.env, &crafted, &d.alice, NS);
    assert_refused(
        &d.env,
        &d.id,
        &[&file],
        &["approval is for workspace", &this_ws],
    );
    // Its own workspace takes it.
    apply_ok(&second, &second_id, &[&theirs]);
}

#[test]
fn refuses_approval_id_already_used() {
    let d = deploy(1);
    let file = sign_with(&d.env, &d.id, &d.alice, ALICE);
    apply_ok(&d.env, &d.id, &[&file]);
    assert_applied(&d.env);
    let approval_id = of_kind(&events(&d.env), "approval.granted")[0]["data"]["approval_id"]
        .as_str()
        .expect("approval id")
        .to_string();
    // Presented again for the plan it applied.
    assert_refused(
        &d.env,
        &d.id,
        &[&file],
        &["already been used", &approval_id],
    );
    // Presented for the rollback of that plan: it names another plan.
    let rev = String::from_utf8(
        d.env
            .cmd()
            .args(["rollback", &d.id, "--plan-only"])
            .output()
            .expect("run")
            .stdout,
    )
    .expect("utf8")
    .trim()
    .to_string();
    assert_eq!(rev.len(), 12, "{rev}");
    let out = d
        .env
        .cmd()
        .args(["rollback", &d.id, "--approval"])
        .arg(&file)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    assert_applied(&d.env);
    d.env.verify_ok();
}

#[test]
fn refuses_below_threshold() {
    let d = deploy(2);
    let alice = sign_with(&d.env, &d.id, &d.alice, ALICE);
    let err = assert_below_threshold(
        &d.env,
        &d.id,
        &[&alice],
        &[
            "rule \"production config\": needs 2 signed approvals, has 1",
            "(paths: deploy/app.yml)",
        ],
    );
    assert!(err.contains("--sign-with"), "hint names how to sign: {err}");
}

#[test]
fn refuses_malformed_file_and_non_approve_decision() {
    let d = deploy(1);
    let junk = scratch(&d.env, "junk.approval");
    std::fs::write(&junk, "hello\n").expect("write");
    assert_refused(&d.env, &d.id, &[&junk], &["malformed approval file"]);
    let text = statement(&d.env, &d.id, ALICE).replace("\"approve\"", "\"reject\"");
    let file = cat_approval(&d.env, &text, &d.alice, NS);
    assert_refused(&d.env, &d.id, &[&file], &["decision is \"reject\""]);
    // A key allowed only for git signatures.
    allow(
        &d.env,
        &[d.alice.line(&format!("{ALICE} namespaces=\"git\""))],
    );
    let file = sign_with(&d.env, &d.id, &d.alice, ALICE);
    assert_refused(
        &d.env,
        &d.id,
        &[&file],
        &["not allowed to sign for namespace", "line 2"],
    );
}

#[test]
fn missing_approval_file_is_an_error_and_changes_nothing() {
    let d = deploy(1);
    let tree = d.env.tree();
    let out = apply(&d.env, &d.id, &[&d.env.tmp.path().join("nope.approval")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("nope.approval"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(d.env.tree(), tree);
}

// ---------------------------------------------------------------------------------------
// 3. k-of-n counting.

#[test]
fn one_signer_twice_counts_once() {
    let d = deploy(2);
    let a1 = sign_with(&d.env, &d.id, &d.alice, ALICE);
    let a2 = sign_with(&d.env, &d.id, &d.alice, ALICE);
    assert_ne!(
        std::fs::read(&a1).expect("a1"),
        std::fs::read(&a2).expect("a2")
    );
    // The same file twice.
    assert_below_threshold(
        &d.env,
        &d.id,
        &[&a1, &a1],
        &["needs 2 signed approvals, has 1"],
    );
    // Two files (two approval ids) by the same key and principal.
    assert_below_threshold(
        &d.env,
        &d.id,
        &[&a1, &a2],
        &["needs 2 signed approvals, has 1"],
    );
    // Alice with a second key of her own is still one principal.
    let alice2 = ed25519(&d.env, "alice2");
    allow(
        &d.env,
        &[d.alice.line(ALICE), alice2.line(ALICE), d.bob.line(BOB)],
    );
    let a3 = sign_with(&d.env, &d.id, &alice2, ALICE);
    assert_below_threshold(
        &d.env,
        &d.id,
        &[&a1, &a3],
        &["needs 2 signed approvals, has 1"],
    );
    assert_not_applied(&d.env);
    let b = sign_with(&d.env, &d.id, &d.bob, BOB);
    apply_ok(&d.env, &d.id, &[&a1, &a1, &b]);
    assert_applied(&d.env);
}

#[test]
fn two_principals_sharing_one_key_count_once() {
    let d = deploy(2);
    let shared = ed25519(&d.env, "shared");
    // One line naming both, and (separately) two lines with the same key.
    for lines in [
        vec![shared.line(&format!("{ALICE},{BOB}"))],
        vec![shared.line(ALICE), shared.line(BOB)],
    ] {
        allow(&d.env, &lines);
        let a = sign_with(&d.env, &d.id, &shared, ALICE);
        let b = sign_with(&d.env, &d.id, &shared, BOB);
        assert_below_threshold(
            &d.env,
            &d.id,
            &[&a, &b],
            &["needs 2 signed approvals, has 1"],
        );
    }
    // Bob with his own key makes two.
    allow(
        &d.env,
        &[shared.line(&format!("{ALICE},{BOB}")), d.bob.line(BOB)],
    );
    let a = sign_with(&d.env, &d.id, &shared, ALICE);
    let b = sign_with(&d.env, &d.id, &d.bob, BOB);
    apply_ok(&d.env, &d.id, &[&a, &b]);
    assert_applied(&d.env);
}

#[test]
fn terminal_approval_counts_for_default_rule_not_signed_rule() {
    let env = Env::new();
    env.write("deploy/app.yml", "replicas: 2\n");
    set_rules(
        &env,
        &format!("[approval]\nrequired = 2\n\n{}", signed_rule(1)),
    );
    let alice = ed25519(&env, "alice");
    allow(&env, &[alice.line(ALICE)]);
    let id = env.plan(SCALE);
    let file = sign_with(&env, &id, &alice, ALICE);
    // Alone, alice's signature meets the signed rule but not `required = 2`.
    assert_below_threshold(
        &env,
        &id,
        &[&file],
        &["rule \"default\": needs 2 approvals, has 1"],
    );
    // An approval typed at a (pseudo-)terminal.
    env.approve(&id);
    let doc = preview_json(&env, &id);
    assert_eq!(requirement(&doc, "default")["held"], 1, "{doc:#}");
    let prod = requirement(&doc, "production config");
    assert_eq!(prod["held"], 0, "{doc:#}");
    assert_eq!(prod["signed"], true);
    // It does not satisfy the signed rule.
    let out = apply(&env, &id, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("rule \"production config\": needs 1 signed approval, has 0"),
        "{err}"
    );
    assert!(
        err.contains("rule \"default\": needs 2 approvals, has 1"),
        "{err}"
    );
    assert_not_applied(&env);
    // Terminal (tester) + signed (alice) = two distinct approvers for the default rule.
    apply_ok(&env, &id, &[&file]);
    assert_applied(&env);
}

#[test]
fn two_distinct_signers_meet_two_of_n() {
    let d = deploy(2);
    let carol = rsa(&d.env, "carol");
    allow(
        &d.env,
        &[
            d.alice.line(ALICE),
            d.bob.line(BOB),
            carol.line("carol@example.com"),
        ],
    );
    let a = sign_with(&d.env, &d.id, &d.alice, ALICE);
    let b = sign_with(&d.env, &d.id, &d.bob, BOB);
    apply_ok(&d.env, &d.id, &[&a, &b]);
    assert_applied(&d.env);
    let ev = events(&d.env);
    let granted: Vec<String> = of_kind(&ev, "approval.granted")
        .iter()
        .map(|e| {
            e["data"]["principal"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(granted, vec![ALICE.to_string(), BOB.to_string()]);
    assert_eq!(of_kind(&ev, "run.committed").len(), 1);
    // `verify` re-checks the recorded signatures.
    d.env.verify_ok();
}

#[test]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs --features failpoints (README test command)"
)]
fn approvals_are_consumed_only_when_a_run_commits() {
    let d = deploy(2);
    let a = sign_with(&d.env, &d.id, &d.alice, ALICE);
    let b = sign_with(&d.env, &d.id, &d.bob, BOB);
    let original = d.env.tree();

    // Drift: exit 4, nothing consumed.
    d.env.write("deploy/app.yml", "replicas: 5\n");
    let out = apply(&d.env, &d.id, &[&a, &b]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("deploy/app.yml"));
    d.env.write("deploy/app.yml", "replicas: 2\n");
    assert_eq!(d.env.tree(), original);

    // A run killed before it commits: recover, nothing consumed.
    let out = d
        .env
        .cmd()
        .env("AUTONOMY_FAILPOINT", "run.before_snapshot")
        .args(["apply", &d.id, "--approval"])
        .arg(&a)
        .arg("--approval")
        .arg(&b)
        .output()
        .expect("run");
    assert!(!out.status.success(), "the failpoint aborts the run");
    d.env.cmd().arg("recover").assert().success();
    assert_eq!(d.env.tree(), original);

    // The same files still approve the plan.
    apply_ok(&d.env, &d.id, &[&a, &b]);
    assert_applied(&d.env);
    // Now they are used.
    assert_refused(&d.env, &d.id, &[&a], &["already been used"]);
    d.env.verify_ok();
}

#[test]
fn rollback_takes_a_signed_approval_for_the_reverse_plan() {
    let d = deploy(1);
    let original = d.env.tree();
    let a = sign_with(&d.env, &d.id, &d.alice, ALICE);
    apply_ok(&d.env, &d.id, &[&a]);
    assert_applied(&d.env);
    // The reverse plan touches deploy/ too: the same rule demands a signature.
    let out = d.env.cmd().args(["rollback", &d.id]).output().expect("run");
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("rule \"production config\""),
        "{}",
        stderr_of(&out)
    );
    assert_applied(&d.env);
    // A pipeline creates the reverse plan, has it signed, and rolls back with it.
    let out = d
        .env
        .cmd()
        .args(["rollback", &d.id, "--plan-only"])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let rev = stdout_of(&out).trim().to_string();
    assert_eq!(rev.len(), 12, "{rev}");
    let r = sign_with(&d.env, &rev, &d.bob, BOB);
    let text = std::fs::read_to_string(&r).expect("read");
    assert!(text.contains(&format!("plan = \"{rev}")), "{text}");
    let out = d
        .env
        .cmd()
        .args(["rollback", &d.id, "--approval"])
        .arg(&r)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(d.env.tree(), original);
    d.env.verify_ok();
}

// ---------------------------------------------------------------------------------------
// 4. Rules.

#[test]
fn deny_rule_refuses_at_plan_time() {
    let env = Env::new();
    set_rules(
        &env,
        "[[rule]]\nname = \"never\"\npaths = [\"secrets/**\", \".env*\"]\ndeny = true\n",
    );
    let tree = env.tree();
    let created = of_kind(&events(&env), "plan.created").len();
    for (path, extra) in [("secrets/token", "README.md"), ("app/.env.local", "a.txt")] {
        let file = scratch(&env, "deny.toml");
        std::fs::write(
            &file,
            format!(
                "title = \"Sneaky\"\n[[action]]\nkind = \"write\"\npath = \"{extra}\"\ncontent = \"x\\n\"\n\n[[action]]\nkind = \"write\"\npath = \"{path}\"\ncontent = \"x\\n\"\n"
            ),
        )
        .expect("write");
        let out = env.cmd().arg("plan").arg(&file).output().expect("run");
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("rule \"never\""), "{err}");
        assert!(err.contains(path), "{err}");
        assert!(stdout_of(&out).is_empty());
    }
    assert_eq!(env.tree(), tree);
    assert_eq!(of_kind(&events(&env), "plan.created").len(), created);

    // A deny rule added after planning still stops the apply (exit 1), before any run.
    std::fs::remove_file(env.path("autonomy.toml")).expect("rm rules");
    let id = env.plan("title = \"Later\"\n[[action]]\nkind = \"write\"\npath = \"secrets/token\"\ncontent = \"x\\n\"\n");
    env.approve(&id);
    set_rules(
        &env,
        "[[rule]]\nname = \"never\"\npaths = [\"secrets/**\"]\ndeny = true\n",
    );
    let tree = env.tree();
    let out = apply(&env, &id, &[]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("rule \"never\"") && err.contains("secrets/token"),
        "{err}"
    );
    assert_eq!(env.tree(), tree);
    assert!(of_kind(&events(&env), "run.started").is_empty());
}

#[test]
fn policy_change_is_judged_by_the_rules_before_it() {
    let env = Env::new();
    let old_rules = "[approval]\nrequired = 1\n\n[[rule]]\nname = \"policy\"\npaths = [\"autonomy.toml\"]\napprovals = 1\nsigned = true\n";
    set_rules(&env, old_rules);
    let alice = ed25519(&env, "alice");
    allow(&env, &[alice.line(ALICE)]);
    // The plan drops the rule that guards it, and adds a file that sorts before it.
    let id = env.plan(
        r#"
title = "Relax the rules"
[[action]]
kind = "write"
path = "a.txt"
content = "hello\n"

[[action]]
kind = "write"
path = "autonomy.toml"
content = "[approval]\nrequired = 1\n"
"#,
    );
    let text = String::from_utf8(
        env.cmd()
            .args(["preview", &id])
            .output()
            .expect("run")
            .stdout,
    )
    .expect("utf8");
    assert!(text.contains("POLICY CHANGE"), "{text}");
    let toml_at = text
        .find("modified autonomy.toml")
        .expect("rules change shown");
    let a_at = text.find("new file a.txt").expect("a.txt shown");
    assert!(toml_at < a_at, "the policy change is listed first:\n{text}");
    let doc = preview_json(&env, &id);
    assert_eq!(doc["policy_change"], true);
    assert_eq!(doc["changes"][0]["path"], "autonomy.toml", "{doc:#}");
    assert_eq!(doc["changes"][0]["policy"], true);
    assert_eq!(doc["changes"][1]["policy"], false);
    assert_eq!(requirement(&doc, "policy")["needed"], 1);

    // A terminal approval would satisfy the new rules, but the old ones demand a signature.
    env.approve(&id);
    let out = apply(&env, &id, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("rule \"policy\""),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(env.read_str("autonomy.toml"), old_rules);
    let file = sign_with(&env, &id, &alice, ALICE);
    apply_ok(&env, &id, &[&file]);
    assert_eq!(env.read_str("autonomy.toml"), "[approval]\nrequired = 1\n");
}

#[test]
fn plan_changing_allowed_signers_is_judged_by_the_signers_before_it() {
    let env = Env::new();
    env.write("deploy/app.yml", "replicas: 2\n");
    let alice = ed25519(&env, "alice");
    let mallory = ed25519(&env, "mallory");
    env.write("config/allowed_signers", format!("{}\n", alice.line(ALICE)));
    set_rules(
        &env,
        &format!(
            "[approval]\nallowed_signers = \"config/allowed_signers\"\n\n{}",
            signed_rule(1)
        ),
    );
    // An agent adds mallory to the signers and changes production config in one plan.
    let id = env.plan(&format!(
        r#"
title = "Add a signer"
[[action]]
kind = "write"
path = "config/allowed_signers"
content = "{}\n{}\n"

[[action]]
kind = "write"
path = "deploy/app.yml"
content = "replicas: 3\n"
"#,
        alice.line(ALICE),
        mallory.line(MALLORY)
    ));
    let doc = preview_json(&env, &id);
    assert_eq!(doc["policy_change"], true);
    assert_eq!(doc["changes"][0]["path"], "config/allowed_signers");
    // Mallory cannot approve the plan that would make her a signer.
    let m = sign_with(&env, &id, &mallory, MALLORY);
    assert_refused(&env, &id, &[&m], &["unknown principal", MALLORY]);
    let a = sign_with(&env, &id, &alice, ALICE);
    apply_ok(&env, &id, &[&a]);
    assert_applied(&env);
    assert!(env.read_str("config/allowed_signers").contains(MALLORY));
}

#[test]
fn signers_file_named_loosely_in_the_rules_is_still_a_policy_path() {
    for spelled in [
        "./config/allowed_signers",
        "config//allowed_signers",
        "config/x/../allowed_signers",
    ] {
        let env = Env::new();
        env.write("deploy/app.yml", "replicas: 2\n");
        let alice = ed25519(&env, "alice");
        env.write("config/allowed_signers", format!("{}\n", alice.line(ALICE)));
        set_rules(
            &env,
            &format!(
                "[approval]\nallowed_signers = \"{spelled}\"\n\n{}",
                signed_rule(1)
            ),
        );
        let id = env.plan(
            r##"
title = "Touch the signers"
[[action]]
kind = "write"
path = "config/allowed_signers"
content = "# nobody\n"

[[action]]
kind = "write"
path = "deploy/app.yml"
content = "replicas: 3\n"
"##,
        );
        let doc = preview_json(&env, &id);
        assert_eq!(doc["policy_change"], true, "{spelled}: {doc:#}");
        assert_eq!(doc["changes"][0]["path"], "config/allowed_signers");
        assert_eq!(doc["changes"][0]["policy"], true, "{spelled}");
        // The file it names is the one approvals are checked against.
        let a = sign_with(&env, &id, &alice, ALICE);
        apply_ok(&env, &id, &[&a]);
        assert_applied(&env);
    }
}

#[test]
fn every_event_carries_the_rules_digest_and_changes_are_journaled() {
    let env = Env::new();
    let v1 = signed_rule(2);
    set_rules(&env, &v1);
    let id = env.plan(SCALE.replace("deploy/app.yml", "VERSION").as_str());
    let v2 = format!("[approval]\nrequired = 1\n\n{}", signed_rule(1));
    set_rules(&env, &v2);
    env.cmd().args(["preview", &id]).assert().success();
    // An unparsable rules file is recorded by digest too, and fails closed.
    env.write("autonomy.toml", "not = [valid");
    let out = apply(&env, &id, &[]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr_of(&out).contains("autonomy.toml"),
        "{}",
        stderr_of(&out)
    );
    set_rules(&env, &v2);
    env.cmd().args(["preview", &id]).assert().success();

    let ev = events(&env);
    let empty = sha256_hex(b"");
    let (d1, d2) = (sha256_hex(v1.as_bytes()), sha256_hex(v2.as_bytes()));
    assert_eq!(ev[0]["kind"], "init");
    assert_eq!(ev[0]["rules"], empty.as_str());
    let mut current = empty.clone();
    let mut changes = Vec::new();
    for e in &ev {
        let rules = e["rules"].as_str().expect("every event has a rules digest");
        assert!(
            rules.len() == 64 && rules.bytes().all(|b| b.is_ascii_hexdigit()),
            "{e:#}"
        );
        if e["kind"] == "rules.changed" {
            assert_eq!(e["data"]["from"], current.as_str(), "{e:#}");
            current = e["data"]["to"].as_str().expect("to").to_string();
            changes.push(current.clone());
        }
        assert_eq!(rules, current, "event carries the rules in force: {e:#}");
    }
    assert!(
        changes.starts_with(&[d1.clone(), d2.clone()]),
        "{changes:?}"
    );
    assert_eq!(changes.last(), Some(&d2));
    let created = of_kind(&ev, "plan.created");
    assert_eq!(created[0]["rules"], d1.as_str());
    let previewed = of_kind(&ev, "plan.previewed");
    assert_eq!(previewed.last().expect("previewed")["rules"], d2.as_str());
    env.verify_ok();
    // The text log says so too.
    let log = String::from_utf8(env.cmd().arg("log").output().expect("log").stdout).expect("utf8");
    assert!(
        log.contains(&format!("rules changed: {} -> {}", &d1[..12], &d2[..12])),
        "{log}"
    );
}

#[test]
fn preview_shows_matching_rules_and_approvals() {
    let env = Env::new();
    env.write("deploy/app.yml", "replicas: 2\n");
    set_rules(
        &env,
        r#"
[approval]
required = 1

[[rule]]
name = "production config"
paths = ["deploy/**", "*.tf"]
approvals = 2
signed = true

[[rule]]
name = "docs review"
paths = ["docs/**"]
approvals = 2

[[rule]]
name = "everything"
approvals = 1

[[rule]]
name = "never"
paths = ["secrets/**"]
deny = true
"#,
    );
    let id = env.plan(
        r#"
title = "Infra and readme"
[[action]]
kind = "write"
path = "deploy/app.yml"
content = "replicas: 3\n"

[[action]]
kind = "write"
path = "infra/prod/main.tf"
content = "resource {}\n"

[[action]]
kind = "write"
path = "README.md"
content = "hi\n"
"#,
    );
    let text = String::from_utf8(
        env.cmd()
            .args(["preview", &id])
            .output()
            .expect("run")
            .stdout,
    )
    .expect("utf8");
    for want in [
        "default: 0 of 1 approval [missing]",
        "production config: 0 of 2 signed approvals for deploy/app.yml, infra/prod/main.tf [missing]",
        // A rule without paths applies to every plan (and lists no paths).
        "everything: 0 of 1 approval [missing]",
    ] {
        assert!(text.contains(want), "preview lacks {want:?}:\n{text}");
    }
    assert!(!text.contains("docs review"), "{text}");
    assert!(!text.contains("never"), "{text}");

    let doc = preview_json(&env, &id);
    let reqs = doc["approvals"]["requirements"].as_array().expect("reqs");
    let names: Vec<&str> = reqs
        .iter()
        .map(|r| r["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, ["default", "production config", "everything"]);
    let prod = requirement(&doc, "production config");
    assert_eq!(prod["needed"], 2);
    assert_eq!(prod["held"], 0);
    assert_eq!(prod["signed"], true);
    let mut paths: Vec<&str> = prod["paths"]
        .as_array()
        .expect("paths")
        .iter()
        .map(|p| p.as_str().unwrap_or(""))
        .collect();
    paths.sort();
    assert_eq!(paths, ["deploy/app.yml", "infra/prod/main.tf"]);
    assert_eq!(requirement(&doc, "default")["paths"], serde_json::json!([]));
    assert_eq!(
        requirement(&doc, "everything")["paths"],
        serde_json::json!([])
    );
    assert_eq!(doc["approvals"]["satisfied"], false);

    env.approve(&id);
    let text = String::from_utf8(
        env.cmd()
            .args(["preview", &id])
            .output()
            .expect("run")
            .stdout,
    )
    .expect("utf8");
    assert!(text.contains("default: 1 of 1 approval [ok]"), "{text}");
    assert!(text.contains("everything: 1 of 1 approval"), "{text}");
    assert!(
        text.contains("production config: 0 of 2 signed approvals"),
        "{text}"
    );
    assert!(
        text.contains(&format!("approved by {ACTOR} (terminal)")),
        "{text}"
    );
    let doc = preview_json(&env, &id);
    assert_eq!(requirement(&doc, "default")["held"], 1);
    assert_eq!(requirement(&doc, "production config")["held"], 0);
    assert_eq!(doc["approvals"]["held"][0]["principal"], ACTOR);
    assert_eq!(doc["approvals"]["satisfied"], false);
}

// ---------------------------------------------------------------------------------------
// 5. Plan bundles.

fn export(env: &Env, id: &str) -> PathBuf {
    let bundle = scratch(env, "plan.autonomy");
    env.cmd()
        .args(["export", id, "-o"])
        .arg(&bundle)
        .assert()
        .success();
    bundle
}

/// A reviewer's folder with no workspace.
fn reviewer() -> Env {
    let r = Env::bare();
    assert!(!r.exists(".autonomy"));
    r
}

#[test]
fn bundle_round_trip_through_a_reviewer_folder() {
    let d = deploy(1);
    let bundle = export(&d.env, &d.id);
    assert_eq!(of_kind(&events(&d.env), "plan.exported").len(), 1);

    let r = reviewer();
    let out = r
        .cmd()
        .args(["preview", "--bundle"])
        .arg(&bundle)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let text = stdout_of(&out);
    for want in [&d.id[..12], "Scale up", "deploy/app.yml", "+replicas: 3"] {
        assert!(
            text.contains(want),
            "bundle preview lacks {want:?}:\n{text}"
        );
    }
    let out = r
        .cmd()
        .args(["preview", "--format", "json", "--bundle"])
        .arg(&bundle)
        .output()
        .expect("run");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["plan"]["id"], d.id.as_str());
    assert_eq!(doc["plan"]["status"], "bundle");

    // In a checkout whose file matches the plan's `before`, the preview is a real diff.
    r.write("deploy/app.yml", "replicas: 2\n");
    let text = stdout_of(
        &r.cmd()
            .args(["preview", "--bundle"])
            .arg(&bundle)
            .output()
            .expect("run"),
    );
    assert!(text.contains("-replicas: 2"), "{text}");

    // Alice signs in the reviewer folder, as herself.
    let file = scratch(&r, "alice.approval");
    let out = r
        .cmd()
        .env("AUTONOMY_ACTOR", ALICE)
        .args(["approve", "--bundle"])
        .arg(&bundle)
        .arg("--sign-with")
        .arg(&d.alice.path)
        .arg("-o")
        .arg(&file)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(!r.exists(".autonomy"), "reviewing wrote no workspace");
    assert!(
        std::fs::read_to_string(&file)
            .expect("read")
            .contains(&format!("approver = \"{ALICE}\"\n"))
    );
    // Without signing, a bundle cannot be approved.
    let out = r
        .cmd()
        .args(["approve", "--bundle"])
        .arg(&bundle)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));

    apply_ok(&d.env, &d.id, &[&file]);
    assert_applied(&d.env);
    d.env.verify_ok();
}

#[test]
fn bundle_between_two_workspaces_statement_flow() {
    let d = deploy(1);
    let bundle = export(&d.env, &d.id);
    // The reviewer works in a workspace of their own.
    let other = Env::new();
    let text = stdout_of(
        &other
            .cmd()
            .args(["approve", "--statement", "--as", ALICE, "--bundle"])
            .arg(&bundle)
            .output()
            .expect("run"),
    );
    assert!(text.contains(&format!("plan = \"{}\"", d.id)), "{text}");
    let file = cat_approval(&other, &text, &d.alice, NS);
    apply_ok(&d.env, &d.id, &[&file]);
    assert_applied(&d.env);
}

fn read_bundle(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("read bundle")).expect("bundle json")
}

fn write_bundle(env: &Env, doc: &serde_json::Value) -> PathBuf {
    let path = scratch(env, "tampered.autonomy");
    std::fs::write(&path, serde_json::to_vec(doc).expect("encode")).expect("write");
    path
}

#[test]
fn tampered_bundle_blob_is_refused() {
    use base64::Engine as _;
    let d = deploy(1);
    let bundle = export(&d.env, &d.id);
    let mut doc = read_bundle(&bundle);
    let blobs = doc["blobs"].as_object_mut().expect("blobs");
    assert_eq!(
        blobs.len(),
        2,
        "the new and the old content of deploy/app.yml"
    );
    let (_, b64) = blobs.iter_mut().next().expect("one blob");
    let mut bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.as_str().expect("b64"))
        .expect("decode");
    bytes[0] ^= 0x01;
    *b64 = base64::engine::general_purpose::STANDARD
        .encode(&bytes)
        .into();
    let tampered = write_bundle(&d.env, &doc);

    let r = reviewer();
    for args in [
        vec!["preview", "--bundle"],
        vec!["approve", "--statement", "--bundle"],
    ] {
        let out = r.cmd().args(&args).arg(&tampered).output().expect("run");
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(7), "{args:?}: {err}");
        assert!(err.contains("does not match its hash"), "{err}");
        assert!(err.contains("altered"), "{err}");
        assert!(stdout_of(&out).is_empty(), "{args:?} printed data");
    }
    let out = r
        .cmd()
        .args(["approve", "--bundle"])
        .arg(&tampered)
        .arg("--sign-with")
        .arg(&d.alice.path)
        .arg("-o")
        .arg(scratch(&r, "x.approval"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(7), "{}", stderr_of(&out));
    // Garbage that is not base64 at all is refused as an invalid bundle.
    let mut doc = read_bundle(&bundle);
    let blobs = doc["blobs"].as_object_mut().expect("blobs");
    let (_, b64) = blobs.iter_mut().next().expect("one blob");
    *b64 = "!!!not base64!!!".into();
    let broken = write_bundle(&d.env, &doc);
    let out = r
        .cmd()
        .args(["preview", "--bundle"])
        .arg(&broken)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("not a valid autonomy bundle"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn tampered_bundle_plan_is_refused_and_its_approval_never_applies() {
    let d = deploy(1);
    let bundle = export(&d.env, &d.id);
    let doc = read_bundle(&bundle);
    assert_eq!(doc["id"], d.id.as_str(), "the bundle records its plan id");
    let plan = doc["plan"].as_str().expect("plan").to_string();
    assert!(plan.contains("\"title\":\"Scale up\""), "{plan}");
    let r = reviewer();

    // A retitled plan in otherwise valid canonical form.
    let mut retitled = doc.clone();
    retitled["plan"] = plan
        .replace("\"title\":\"Scale up\"", "\"title\":\"Fix a typo\"")
        .into();
    let tampered = write_bundle(&d.env, &retitled);
    let out = r
        .cmd()
        .args(["preview", "--bundle"])
        .arg(&tampered)
        .output()
        .expect("run");
    let err = stderr_of(&out);
    assert_eq!(
        out.status.code(),
        Some(7),
        "a retitled bundle is refused: {err}"
    );
    assert!(err.contains("the bundle was altered"), "{err}");
    assert!(err.contains(&d.id[..12]), "{err}");
    assert!(stdout_of(&out).is_empty());
    let out = r
        .cmd()
        .env("AUTONOMY_ACTOR", ALICE)
        .args(["approve", "--bundle"])
        .arg(&tampered)
        .arg("--sign-with")
        .arg(&d.alice.path)
        .arg("-o")
        .arg(scratch(&r, "never.approval"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(7), "{}", stderr_of(&out));

    // Non-canonical JSON for the plan (whitespace) is refused too.
    let mut spaced = doc.clone();
    spaced["plan"] = plan.replacen(",\"title\"", ", \"title\"", 1).into();
    let out = r
        .cmd()
        .args(["preview", "--bundle"])
        .arg(write_bundle(&d.env, &spaced))
        .output()
        .expect("run");
    assert!(
        matches!(out.status.code(), Some(1) | Some(7)),
        "{}",
        stderr_of(&out)
    );
    assert!(stderr_of(&out).contains("canonical"), "{}", stderr_of(&out));

    // Even a carefully re-made bundle of the retitled plan (its recorded id dropped or
    // recomputed) yields an approval for a plan that does not exist here: it never
    // applies to the original.
    let mut remade = retitled.clone();
    if let Some(obj) = remade.as_object_mut() {
        obj.remove("id");
    }
    let remade = write_bundle(&d.env, &remade);
    let out = r
        .cmd()
        .args(["preview", "--format", "json", "--bundle"])
        .arg(&remade)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let forged_id = shown["plan"]["id"].as_str().expect("id").to_string();
    assert_ne!(forged_id, d.id);
    assert_eq!(shown["plan"]["title"], "Fix a typo");
    let file = scratch(&r, "forged.approval");
    r.cmd()
        .env("AUTONOMY_ACTOR", ALICE)
        .args(["approve", "--bundle"])
        .arg(&remade)
        .arg("--sign-with")
        .arg(&d.alice.path)
        .arg("-o")
        .arg(&file)
        .assert()
        .success();
    assert_refused(
        &d.env,
        &d.id,
        &[&file],
        &[&format!(
            "approval is for plan {}, not for plan {}",
            &forged_id[..12],
            &d.id[..12]
        )],
    );
    assert_not_applied(&d.env);
}

// ---------------------------------------------------------------------------------------
// 6. The allowed_signers parser, through the library.

const ED: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFMtZB3Ywov3yvgEVgTgZF62xSDyipohkEcmWqB03lKb";
const P256: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBPs0jjVqDDdr8Xjyi+xxcNW95OLtl63aQ3REuM2bk3k+x+oL81W/82t+Z+QgyhzZaYTST1hHeyLxQDXhx4nQIX8=";
const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCp1PJgnJ/wTiaaBQk0SBlMCz5gRoDRr2QDclTOoLRcEAAE0KQ8+WMJ/08sdKqboTZT5U7P7uaj1Ngekg5dWWnO84kG80xcTJPCGZOyPgSqOmTexYgfqA5wBPGn0Fo2CoeP968UQm2tN9p/QjuqYRRoEanaY5WtkXMYm/YPO2zeR84oTdekL82RZKHTlQeFOW553Sy8rI4iy4ItPhovizGi6jLkCg5nPP8Ow78OaU4CBEHFX0Y9mB2qXiwhJ9VC3+HAGJZNv+fQ88tb8nOXyOOZ5agwbTz4WoYa8Kd7P6BTbH68kCeKd/Rn1IYMuUEy8pHyuY1yTPidVXOeSrKn+Jnd";

/// What a valid line parses to.
struct Want {
    principals: &'static str,
    cert_authority: bool,
    namespaces: Option<&'static str>,
    valid_after: Option<&'static str>,
    valid_before: Option<&'static str>,
}

const PLAIN: Want = Want {
    principals: "alice@example.com",
    cert_authority: false,
    namespaces: None,
    valid_after: None,
    valid_before: None,
};

#[test]
fn allowed_signers_valid_lines() {
    let cases: Vec<(String, Want)> = vec![
        (format!("alice@example.com {ED}"), PLAIN),
        (
            format!("alice@example.com {ED} comment with  spaces"),
            PLAIN,
        ),
        (format!("\t alice@example.com \t{P256}\r"), PLAIN),
        (format!("alice@example.com {RSA}"), PLAIN),
        (format!("\"alice@example.com\" {ED}"), Want { ..PLAIN }),
        (
            format!("alice@example.com,bob@example.com {ED}"),
            Want {
                principals: "alice@example.com,bob@example.com",
                ..PLAIN
            },
        ),
        (
            format!("\"alice smith,bob\" {ED}"),
            Want {
                principals: "alice smith,bob",
                ..PLAIN
            },
        ),
        (
            format!("*@example.com,!mallory@example.com {ED}"),
            Want {
                principals: "*@example.com,!mallory@example.com",
                ..PLAIN
            },
        ),
        (
            format!("alice@example.com namespaces=\"git,autonomy-approval\" {ED}"),
            Want {
                namespaces: Some("git,autonomy-approval"),
                ..PLAIN
            },
        ),
        (
            format!("alice@example.com NameSpaces=\"autonomy-*\" {ED}"),
            Want {
                namespaces: Some("autonomy-*"),
                ..PLAIN
            },
        ),
        (
            format!("alice@example.com namespaces=autonomy-approval {ED}"),
            Want {
                namespaces: Some("autonomy-approval"),
                ..PLAIN
            },
        ),
        (
            format!("alice@example.com cert-authority {ED}"),
            Want {
                cert_authority: true,
                ..PLAIN
            },
        ),
        (
            format!(
                "alice@example.com cert-authority,namespaces=\"a b,c\",valid-after=\"20260101Z\",valid-before=\"202701021230UTC\" {ED}"
            ),
            Want {
                cert_authority: true,
                namespaces: Some("a b,c"),
                valid_after: Some("2026-01-01T00:00:00Z"),
                valid_before: Some("2027-01-02T12:30:00Z"),
                ..PLAIN
            },
        ),
        (
            format!("alice@example.com valid-before=20200101Z {ED}"),
            Want {
                valid_before: Some("2020-01-01T00:00:00Z"),
                ..PLAIN
            },
        ),
        (
            format!("alice@example.com valid-after=\"20260101123059z\" {ED}"),
            Want {
                valid_after: Some("2026-01-01T12:30:59Z"),
                ..PLAIN
            },
        ),
    ];
    for (line, want) in cases {
        let text = format!("# header\n\n{line}\n");
        let parsed = allowed_signers::parse(&text).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        let e = &parsed.entries()[0];
        assert_eq!(parsed.entries().len(), 1, "{line:?}");
        assert_eq!(e.line, 3, "{line:?}");
        assert_eq!(e.principals, want.principals, "{line:?}");
        assert_eq!(e.cert_authority, want.cert_authority, "{line:?}");
        assert_eq!(e.namespaces.as_deref(), want.namespaces, "{line:?}");
        assert_eq!(
            e.valid_after.map(rfc3339).as_deref(),
            want.valid_after,
            "{line:?}"
        );
        assert_eq!(
            e.valid_before.map(rfc3339).as_deref(),
            want.valid_before,
            "{line:?}"
        );
    }
}

#[test]
fn allowed_signers_invalid_lines() {
    let cases: Vec<(String, usize, &str)> = vec![
        ("alice".into(), 1, "missing key"),
        (format!("alice foo {ED}"), 1, "unknown option \"foo\""),
        (
            format!("# team\nalice {ED}\n\nbob no-touch-required {ED}"),
            4,
            "unknown option \"no-touch-required\"",
        ),
        (
            format!("alice cert-authority,verify-required {ED}"),
            1,
            "unknown option \"verify-required\"",
        ),
        (
            format!("alice namespaces=\"git {ED}"),
            1,
            "unterminated quote",
        ),
        (format!("\"alice {ED}"), 1, "unterminated quote"),
        (format!("al\"ice {ED}"), 1, "unexpected double quote"),
        (format!("alice,,bob {ED}"), 1, "empty pattern"),
        (format!("alice,! {ED}"), 1, "empty pattern"),
        (format!("alice namespaces=\"\" {ED}"), 1, "needs a value"),
        (format!("alice namespaces {ED}"), 1, "needs a value"),
        (
            format!("alice cert-authority=yes {ED}"),
            1,
            "takes no value",
        ),
        (
            format!("alice namespaces=\"a\",namespaces=\"b\" {ED}"),
            1,
            "more than once",
        ),
        (
            format!("alice cert-authority,,namespaces=a {ED}"),
            1,
            "empty option",
        ),
        (
            format!("alice valid-before=\"20200101\" {ED}"),
            1,
            "local times are not accepted",
        ),
        (
            format!("alice valid-before=\"2020-01-01Z\" {ED}"),
            1,
            "expected YYYYMMDD",
        ),
        (
            format!("alice valid-after=\"20261301Z\" {ED}"),
            1,
            "no such date",
        ),
        (
            "alice ssh-dss AAAAB3NzaC1kc3MAAACBAP".into(),
            1,
            "unsupported key type",
        ),
        (
            "alice ssh-ed25519 AAAA!!".into(),
            1,
            "invalid ssh-ed25519 key",
        ),
        ("alice ssh-ed25519".into(), 1, "missing key"),
    ];
    for (text, line, expect) in cases {
        let err = allowed_signers::parse(&text).expect_err(&text);
        assert_eq!(err.line, line, "{text:?}: {err}");
        let msg = err.to_string();
        assert!(msg.starts_with(&format!("line {line}: ")), "{msg}");
        assert!(
            msg.contains(expect),
            "{text:?}: got {msg:?}, want {expect:?}"
        );
    }
    let err = allowed_signers::parse(&format!("alice bogus=1 {ED}")).expect_err("bogus");
    assert_eq!(err.kind, ParseErrorKind::UnknownOption("bogus".into()));
}

#[test]
fn allowed_signers_matching_rules() {
    let key = |t: &str| ssh_key::PublicKey::from_openssh(t).expect("key");
    let (ed, p256, rsa) = (key(ED), key(P256), key(RSA));
    let signers = allowed_signers::parse(&format!(
        "*@example.com,!mallory@example.com {ED}\n\
         dev-? namespaces=\"git,autonomy-approval\" {P256}\n\
         ops namespaces=\"git\" {P256}\n\
         ca cert-authority {RSA}\n\
         old valid-before=\"20200101Z\" {RSA}\n"
    ))
    .expect("parses");
    let now = chrono::Utc::now();
    let ok = |p: &str, k: &ssh_key::PublicKey| signers.authorize(p, k, NS, now);
    assert_eq!(ok("alice@example.com", &ed), Ok(()));
    assert_eq!(ok("dev-1", &p256), Ok(()));
    assert!(matches!(
        ok("mallory@example.com", &ed),
        Err(Refusal::UnknownPrincipal { .. })
    ));
    assert!(matches!(
        ok("alice@example.org", &ed),
        Err(Refusal::UnknownPrincipal { .. })
    ));
    assert!(matches!(
        ok("dev-12", &p256),
        Err(Refusal::UnknownPrincipal { .. })
    ));
    assert!(matches!(
        ok("alice@example.com", &p256),
        Err(Refusal::UnknownPrincipal { .. })
    ));
    assert!(matches!(
        ok("ops", &p256),
        Err(Refusal::NamespaceNotAllowed { line: 3, .. })
    ));
    // A CA line never authorizes a plain key.
    assert!(matches!(
        ok("ca", &rsa),
        Err(Refusal::UnknownPrincipal { .. })
    ));
    assert!(matches!(
        ok("old", &rsa),
        Err(Refusal::OutsideValidityWindow { line: 5, .. })
    ));
    // Matching is case-sensitive.
    assert!(matches!(
        ok("Alice@Example.com", &ed),
        Err(Refusal::UnknownPrincipal { .. })
    ));
}

#[test]
fn broken_allowed_signers_file_fails_closed_naming_the_line() {
    let d = deploy(1);
    let file = sign_with(&d.env, &d.id, &d.alice, ALICE);
    std::fs::write(
        d.env.path(".autonomy/allowed_signers"),
        format!("{}\nbob frobnicate {}\n", d.alice.line(ALICE), d.bob.public),
    )
    .expect("write");
    let tree = d.env.tree();
    let out = apply(&d.env, &d.id, &[&file]);
    let err = stderr_of(&out);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("allowed_signers"), "{err}");
    assert!(err.contains("line 2"), "{err}");
    assert!(err.contains("unknown option \"frobnicate\""), "{err}");
    assert_eq!(d.env.tree(), tree);
}
