//! A full disk: a workspace on a small tmpfs, filled between plan and apply. The apply
//! fails cleanly (exit 1, "the disk is full"), every file is as it was, and once space is
//! freed the journal verifies and the same plan applies. Needs root (mount); otherwise the
//! tests print `SKIPPED: <reason>` and return.

use crate::common::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted on a temp folder; unmounted when dropped (also when a test fails).
struct Tmpfs {
    mount: Unmount,
    dir: tempfile::TempDir,
}

struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // Something still holds it: detach it lazily rather than leak the mount.
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

impl Tmpfs {
    fn mount(size: &str) -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs failed (not root or not permitted): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Tmpfs {
            mount: Unmount(dir.path().to_path_buf()),
            dir,
        })
    }

    fn path(&self) -> &Path {
        debug_assert_eq!(self.mount.0, self.dir.path());
        self.dir.path()
    }
}

fn free_bytes(path: &Path) -> u64 {
    let st = rustix::fs::statvfs(path).expect("statvfs");
    st.f_bavail * st.f_frsize
}

/// Fill the file system holding `dir` with a filler file, leaving about `leave` bytes.
fn fill(dir: &Path, leave: u64) -> PathBuf {
    let filler = dir.join("filler");
    let mut f = std::fs::File::create(&filler).expect("filler");
    let chunk = vec![0xA5u8; 64 * 1024];
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => panic!("filling: {e}"),
        }
    }
    let _ = f.flush();
    let len = f.metadata().expect("stat").len();
    f.set_len(len.saturating_sub(leave)).expect("truncate");
    drop(f);
    filler
}

fn write_plan(big: usize) -> String {
    format!(
        "title = \"fill it\"\n\
         [[action]]\nkind = \"write\"\npath = \"a-small.txt\"\ncontent = \"changed\\n\"\n\
         [[action]]\nkind = \"write\"\npath = \"big.bin\"\ncontent = \"{}\"\n\
         [[action]]\nkind = \"delete\"\npath = \"z-gone.txt\"\n",
        "x".repeat(big)
    )
}

fn setup(fs: &Tmpfs) -> (Env, String) {
    let env = Env::new_in(fs.path());
    env.write("a-small.txt", "small\n");
    env.write("big.bin", "tiny\n");
    env.write("z-gone.txt", "deleted by the plan\n");
    let file = env.plan_file(write_plan(2 << 20));
    let o = env.output(&["plan", file.to_str().expect("utf8")]);
    assert_exit_in(&o, &[0], "plan");
    std::fs::remove_file(&file).expect("rm plan file");
    let id = env.full_id_db(String::from_utf8_lossy(&o.stdout).trim());
    env.approve(&id);
    (env, id)
}

/// The apply's temp file for the 2 MiB file cannot be written: the run fails, the small
/// file already replaced is put back, and the failure is journaled.
#[test]
fn disk_full_during_apply_puts_everything_back() {
    let fs = match Tmpfs::mount("8m") {
        Ok(fs) => fs,
        Err(e) => return skip(&e),
    };
    let (env, id) = setup(&fs);
    let before = env.tree();
    let filler = fill(fs.path(), 256 * 1024);
    assert!(free_bytes(fs.path()) < 1 << 20);

    let o = env.output(&["apply", &id]);
    assert_exit_in(&o, &[1], "apply on a full disk");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("disk is full"), "{}", text(&o));
    assert!(err.contains("big.bin"), "names the file: {}", text(&o));
    assert_eq!(env.tree(), before, "every file as it was");
    assert_eq!(
        env.count("SELECT COUNT(*) FROM runs WHERE state = 'failed'"),
        1,
        "the run is recorded as failed"
    );
    // No temp file left behind anywhere in the workspace.
    assert!(!env.tree().keys().any(|k| k.contains(".autonomy-tmp")));

    std::fs::remove_file(filler).expect("free space");
    env.verify_ok();
    // A failed run is not final: the same plan applies once there is room.
    env.apply_ok(&id);
    assert_eq!(env.read("big.bin").len(), 2 << 20);
    assert!(!env.exists("z-gone.txt"));
    env.verify_ok();
    drop(env);
}

/// Not a byte left: the journal itself cannot grow (SQLite reports SQLITE_IOERR_SHMSIZE,
/// not SQLITE_FULL, and the cause is only in errno). The apply fails cleanly with exit 1,
/// says the disk is full, and
/// touches nothing; the journal verifies once space is freed.
#[test]
fn journal_on_a_full_disk_says_the_disk_is_full() {
    let fs = match Tmpfs::mount("8m") {
        Ok(fs) => fs,
        Err(e) => return skip(&e),
    };
    let (env, id) = setup(&fs);
    let before = env.tree();
    let filler = fill(fs.path(), 0);
    let o = env.output(&["apply", &id]);
    assert_exit_in(&o, &[1], "apply on a completely full disk");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("disk is full"),
        "{}",
        text(&o)
    );
    assert_eq!(env.tree(), before);
    std::fs::remove_file(filler).expect("free space");
    let o = env.output(&["verify"]);
    assert_exit_in(&o, &[0], "verify after freeing space");
    env.apply_ok(&id);
    env.verify_ok();
}

/// `plan` cannot store the new content: exit 1, no plan stored, no temp blob left.
#[test]
fn disk_full_during_plan_stores_nothing() {
    let fs = match Tmpfs::mount("8m") {
        Ok(fs) => fs,
        Err(e) => return skip(&e),
    };
    let env = Env::new_in(fs.path());
    env.write("a-small.txt", "small\n");
    env.write("big.bin", "tiny\n");
    env.write("z-gone.txt", "x\n");
    let file = env.plan_file(write_plan(1 << 20));
    let before = env.tree();
    let filler = fill(fs.path(), 64 * 1024);
    let o = env.output(&["plan", file.to_str().expect("utf8")]);
    assert_exit_in(&o, &[1], "plan on a full disk");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("disk is full"),
        "{}",
        text(&o)
    );
    assert_eq!(env.tree(), before);
    assert_eq!(env.count("SELECT COUNT(*) FROM plans"), 0);
    let temps = std::fs::read_dir(env.path(".autonomy/objects"))
        .expect("objects")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("tmp-"))
        })
        .count();
    assert_eq!(temps, 0, "a partial blob was left behind");
    std::fs::remove_file(filler).expect("free space");
    env.verify_ok();
}
