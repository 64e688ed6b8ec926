//! Renames as git shows them: a path the plan deletes paired with a path it creates whose
//! content is similar. A presentation only: the plan's changes stay a delete and a create
//! (the engine, the digest and the approvals never see a rename); the preview, the apply
//! output and the log show the pair as one `rename from`/`rename to` with only the content
//! hunks.
//!
//! Pairing follows git's defaults (`diff.renames`, `-M50%`), in three rounds:
//!
//! 1. a created path whose change says where it moved from (`from`: a plan file's `move`,
//!    a patch's `rename from`) pairs with that deleted path, whatever the similarity;
//! 2. exact renames: the same content hash (files) or the same target (links), a source
//!    with the same file name first;
//! 3. inexact renames, files only (a link renames only exactly, as in git): git's span-hash
//!    similarity (content cut at each newline or every 64 bytes, `CR LF` read as `LF` in
//!    text; the bytes of the source found again in the destination over the larger size),
//!    at least [`MIN_SIMILARITY`] percent, best scores first. Bounded: only when sources
//!    times destinations left is at most [`MAX_PAIRS`], and only contents up to
//!    [`MAX_BYTES`] (larger ones pair by hash only), so a large plan costs one hash lookup
//!    per path.

use crate::model::plan::{Change, State};
use serde::Serialize;
use std::collections::HashMap;

/// git's default minimum similarity for a rename (`-M50%`).
pub const MIN_SIMILARITY: u32 = 50;
/// The most source × destination comparisons the inexact round makes (git's default
/// `diff.renameLimit` is 1000 × 1000; contents here are compared without git's cache).
pub const MAX_PAIRS: usize = 400 * 400;
/// Contents larger than this are paired by hash only (as the preview diffs no larger).
pub const MAX_BYTES: usize = 1 << 20;

/// A delete and a create of the same plan shown as one rename.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rename {
    /// The deleted path.
    pub from: String,
    /// The created path.
    pub to: String,
    /// git's similarity index (0 to 100); none when the plan says it moved but the
    /// contents are not at hand to compare (too large or unavailable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity: Option<u32>,
    /// Indices of the two changes in the plan.
    #[serde(skip)]
    pub from_index: usize,
    #[serde(skip)]
    pub to_index: usize,
}

impl Rename {
    /// `a => b` with the common leading and trailing folders factored out, as git's
    /// diffstat writes it: `src/{old => new}/lib.rs`.
    pub fn label(&self) -> String {
        label(&self.from, &self.to)
    }
}

/// Where the pairing finds contents by path and hash; `None` when not at hand (or larger
/// than [`MAX_BYTES`]).
pub type Contents<'a> = &'a dyn Fn(&str, &str) -> Option<Vec<u8>>;

/// A scale as fine as git's (`MAX_SCORE`); similarity is `score * 100 / SCALE`.
const SCALE: u64 = 60_000;

/// The renames among `changes`, in the order of their created paths.
pub fn detect(changes: &[Change], contents: Contents) -> Vec<Rename> {
    let mut sources: Vec<usize> = Vec::new();
    let mut dests: Vec<usize> = Vec::new();
    for (i, c) in changes.iter().enumerate() {
        match (&c.before, &c.after) {
            (State::File { .. } | State::Symlink { .. }, State::Absent) => sources.push(i),
            (State::Absent, State::File { .. } | State::Symlink { .. }) => dests.push(i),
            _ => {}
        }
    }
    if sources.is_empty() || dests.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<Rename> = Vec::new();
    let mut src_used = vec![false; sources.len()];
    let mut dst_used = vec![false; dests.len()];
    let by_path: HashMap<&str, usize> = sources
        .iter()
        .enumerate()
        .map(|(k, &i)| (changes[i].path.as_str(), k))
        .collect();
    // 1. Moves the plan names.
    for (d, &j) in dests.iter().enumerate() {
        let Some(from) = changes[j].from.as_deref() else {
            continue;
        };
        let Some(&s) = by_path.get(from) else {
            continue;
        };
        let src = &changes[sources[s]];
        if src_used[s] || !same_kind(&src.before, &changes[j].after) {
            continue;
        }
        let similarity = if key(&src.before) == key(&changes[j].after) {
            Some(100)
        } else {
            let sig = |c: &Change, st: &State| {
                st.file_hash()
                    .and_then(|h| contents(&c.path, h))
                    .filter(|b| b.len() <= MAX_BYTES)
                    .map(|b| Signature::of(&b))
            };
            match (sig(src, &src.before), sig(&changes[j], &changes[j].after)) {
                (Some(a), Some(b)) => Some(index(a.score(&b, false))),
                _ => None,
            }
        };
        src_used[s] = true;
        dst_used[d] = true;
        out.push(pair(changes, sources[s], j, similarity));
    }
    // 2. Exact renames: same content (or link target).
    let mut exact: HashMap<(bool, &str), Vec<usize>> = HashMap::new();
    for (s, &i) in sources.iter().enumerate() {
        if !src_used[s] {
            exact.entry(key(&changes[i].before)).or_default().push(s);
        }
    }
    for (d, &j) in dests.iter().enumerate() {
        if dst_used[d] {
            continue;
        }
        let Some(cands) = exact.get_mut(&key(&changes[j].after)) else {
            continue;
        };
        let Some(pos) = cands
            .iter()
            .position(|&s| same_name(&changes[sources[s]].path, &changes[j].path))
            .or((!cands.is_empty()).then_some(0))
        else {
            continue;
        };
        let s = cands.remove(pos);
        src_used[s] = true;
        dst_used[d] = true;
        out.push(pair(changes, sources[s], j, Some(100)));
    }
    // 3. Inexact renames of files, bounded.
    let left_src: Vec<usize> = (0..sources.len())
        .filter(|&s| !src_used[s] && changes[sources[s]].before.file_hash().is_some())
        .collect();
    let left_dst: Vec<usize> = (0..dests.len())
        .filter(|&d| !dst_used[d] && changes[dests[d]].after.file_hash().is_some())
        .collect();
    if !left_src.is_empty()
        && !left_dst.is_empty()
        && left_src.len().saturating_mul(left_dst.len()) <= MAX_PAIRS
    {
        out.extend(inexact(
            changes, &sources, &dests, &left_src, &left_dst, contents,
        ));
    }
    out.sort_by_key(|r| r.to_index);
    out
}

fn inexact(
    changes: &[Change],
    sources: &[usize],
    dests: &[usize],
    left_src: &[usize],
    left_dst: &[usize],
    contents: Contents,
) -> Vec<Rename> {
    let load = |i: usize, st: &State| -> Option<Signature> {
        let bytes = contents(&changes[i].path, st.file_hash()?)?;
        (bytes.len() <= MAX_BYTES).then(|| Signature::of(&bytes))
    };
    let src_sigs: Vec<Option<Signature>> = left_src
        .iter()
        .map(|&s| load(sources[s], &changes[sources[s]].before))
        .collect();
    let dst_sigs: Vec<Option<Signature>> = left_dst
        .iter()
        .map(|&d| load(dests[d], &changes[dests[d]].after))
        .collect();
    // (score, same file name, dest, source): best first.
    let mut scored: Vec<(u64, bool, usize, usize)> = Vec::new();
    for (b, dsig) in dst_sigs.iter().enumerate() {
        let Some(dsig) = dsig else { continue };
        for (a, ssig) in src_sigs.iter().enumerate() {
            let Some(ssig) = ssig else { continue };
            let score = ssig.score(dsig, true);
            if score * 100 >= u64::from(MIN_SIMILARITY) * SCALE {
                let same = same_name(
                    &changes[sources[left_src[a]]].path,
                    &changes[dests[left_dst[b]]].path,
                );
                scored.push((score, same, b, a));
            }
        }
    }
    scored.sort_by(|x, y| {
        y.0.cmp(&x.0)
            .then(y.1.cmp(&x.1))
            .then(x.2.cmp(&y.2))
            .then(x.3.cmp(&y.3))
    });
    let mut src_taken = vec![false; left_src.len()];
    let mut dst_taken = vec![false; left_dst.len()];
    let mut out = Vec::new();
    for (score, _, b, a) in scored {
        if src_taken[a] || dst_taken[b] {
            continue;
        }
        src_taken[a] = true;
        dst_taken[b] = true;
        out.push(pair(
            changes,
            sources[left_src[a]],
            dests[left_dst[b]],
            Some(index(score)),
        ));
    }
    out
}

fn pair(changes: &[Change], from: usize, to: usize, similarity: Option<u32>) -> Rename {
    Rename {
        from: changes[from].path.clone(),
        to: changes[to].path.clone(),
        similarity,
        from_index: from,
        to_index: to,
    }
}

fn index(score: u64) -> u32 {
    (score.min(SCALE) * 100 / SCALE) as u32
}

/// What an exact rename must share: (is a link, content hash or link target).
fn key(s: &State) -> (bool, &str) {
    match s {
        State::Symlink { target } => (true, target.as_str()),
        State::File { sha256, .. } => (false, sha256.as_str()),
        _ => (false, ""),
    }
}

fn same_kind(a: &State, b: &State) -> bool {
    matches!(
        (a, b),
        (State::File { .. }, State::File { .. }) | (State::Symlink { .. }, State::Symlink { .. })
    )
}

fn same_name(a: &str, b: &str) -> bool {
    a.rsplit('/').next() == b.rsplit('/').next()
}

/// git's span hashes of a content (diffcore-delta.c): for each chunk hash, the bytes it
/// covers, sorted by hash.
struct Signature {
    size: u64,
    spans: Vec<(u32, u64)>,
}

impl Signature {
    fn of(bytes: &[u8]) -> Signature {
        const HASHBASE: u32 = 107_927;
        let text = !bytes[..bytes.len().min(8000)].contains(&0);
        let mut counts: HashMap<u32, u64> = HashMap::new();
        let (mut accum1, mut accum2, mut n) = (0u32, 0u32, 0u64);
        for (k, &c) in bytes.iter().enumerate() {
            let old_1 = accum1;
            if text && c == b'\r' && bytes.get(k + 1) == Some(&b'\n') {
                continue;
            }
            accum1 = (accum1 << 7) ^ (accum2 >> 25);
            accum2 = (accum2 << 7) ^ (old_1 >> 25);
            accum1 = accum1.wrapping_add(u32::from(c));
            n += 1;
            if n < 64 && c != b'\n' {
                continue;
            }
            let hashval = accum1.wrapping_add(accum2.wrapping_mul(0x61)) % HASHBASE;
            *counts.entry(hashval).or_default() += n;
            n = 0;
            accum1 = 0;
            accum2 = 0;
        }
        if n > 0 {
            let hashval = accum1.wrapping_add(accum2.wrapping_mul(0x61)) % HASHBASE;
            *counts.entry(hashval).or_default() += n;
        }
        let mut spans: Vec<(u32, u64)> = counts.into_iter().collect();
        spans.sort_unstable();
        Signature {
            size: bytes.len() as u64,
            spans,
        }
    }

    /// git's `estimate_similarity` on the [`SCALE`]: the source's bytes found again in
    /// the destination over the larger size. With `prefilter`, pairs whose sizes alone
    /// rule out [`MIN_SIMILARITY`] score 0 without comparing.
    fn score(&self, dst: &Signature, prefilter: bool) -> u64 {
        let max = self.size.max(dst.size);
        let base = self.size.min(dst.size);
        if max == 0 {
            return SCALE;
        }
        if prefilter && max * (100 - u64::from(MIN_SIMILARITY)) < (max - base) * 100 {
            return 0;
        }
        let (mut i, mut j, mut copied) = (0, 0, 0u64);
        while i < self.spans.len() && j < dst.spans.len() {
            let (a, b) = (self.spans[i], dst.spans[j]);
            match a.0.cmp(&b.0) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    copied += a.1.min(b.1);
                    i += 1;
                    j += 1;
                }
            }
        }
        copied * SCALE / max
    }
}

/// git's `pprint_rename`: the common leading folders and trailing part (from a `/`) are
/// written once, the differing middle as `{old => new}`.
pub fn label(a: &str, b: &str) -> String {
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    // Common prefix up to and including the last `/` they share.
    let mut pfx = 0;
    let mut k = 0;
    while k < ab.len() && k < bb.len() && ab[k] == bb[k] {
        if ab[k] == b'/' {
            pfx = k + 1;
        }
        k += 1;
    }
    // Common suffix from a `/`; with a prefix, it may reach back to the prefix's own `/`.
    let floor = pfx.saturating_sub(1);
    let mut sfx = 0;
    let (mut x, mut y) = (ab.len(), bb.len());
    while x > floor && y > floor && ab[x - 1] == bb[y - 1] {
        x -= 1;
        y -= 1;
        if ab[x] == b'/' {
            sfx = ab.len() - x;
        }
    }
    if pfx == 0 && sfx == 0 {
        return format!("{a} => {b}");
    }
    fn mid(s: &str, pfx: usize, sfx: usize) -> &str {
        s.get(pfx..s.len().saturating_sub(sfx).max(pfx))
            .unwrap_or("")
    }
    format!(
        "{}{{{} => {}}}{}",
        &a[..pfx],
        mid(a, pfx, sfx),
        mid(b, pfx, sfx),
        &a[a.len() - sfx..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::hash::sha256_hex;

    fn file(content: &str) -> State {
        State::File {
            sha256: sha256_hex(content.as_bytes()),
            mode: 0o644,
        }
    }
    fn change(path: &str, before: State, after: State) -> Change {
        Change {
            path: path.into(),
            before,
            after,
            from: None,
        }
    }
    fn store(texts: &[&str]) -> HashMap<String, Vec<u8>> {
        texts
            .iter()
            .map(|t| (sha256_hex(t.as_bytes()), t.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn similarity_is_gits() {
        // `seq 1 10` renamed with `11` appended: git says 87%.
        let ten: String = (1..=10).map(|i| format!("{i}\n")).collect();
        let eleven = format!("{ten}11\n");
        let blobs = store(&[&ten, &eleven]);
        let changes = vec![
            change("ten", file(&ten), State::Absent),
            change("ten2", State::Absent, file(&eleven)),
        ];
        let got = detect(&changes, &|_, h| blobs.get(h).cloned());
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].from.as_str(), got[0].to.as_str()), ("ten", "ten2"));
        assert_eq!(got[0].similarity, Some(87));
    }

    #[test]
    fn dissimilar_files_stay_a_delete_and_a_create() {
        let blobs = store(&["alpha\nbeta\n", "gamma\ndelta\n"]);
        let changes = vec![
            change("a", file("alpha\nbeta\n"), State::Absent),
            change("b", State::Absent, file("gamma\ndelta\n")),
        ];
        assert!(detect(&changes, &|_, h| blobs.get(h).cloned()).is_empty());
    }

    #[test]
    fn exact_renames_prefer_the_same_file_name_and_links_rename_exactly() {
        let changes = vec![
            change("x/a.txt", file("same\n"), State::Absent),
            change("y/b.txt", file("same\n"), State::Absent),
            change("z/b.txt", State::Absent, file("same\n")),
            change("l1", State::Symlink { target: "t".into() }, State::Absent),
            change("l2", State::Absent, State::Symlink { target: "t".into() }),
            change("l3", State::Symlink { target: "u".into() }, State::Absent),
            change("l4", State::Absent, State::Symlink { target: "v".into() }),
        ];
        let got = detect(&changes, &|_, _| None);
        let pairs: Vec<(&str, &str)> = got
            .iter()
            .map(|r| (r.from.as_str(), r.to.as_str()))
            .collect();
        assert_eq!(pairs, [("y/b.txt", "z/b.txt"), ("l1", "l2")]);
    }

    #[test]
    fn a_named_move_pairs_whatever_the_similarity() {
        let mut to = change("new", State::Absent, file("other\n"));
        to.from = Some("old".into());
        let blobs = store(&["one\n", "other\n"]);
        let changes = vec![change("old", file("one\n"), State::Absent), to];
        let got = detect(&changes, &|_, h| blobs.get(h).cloned());
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].similarity, Some(0));
    }

    /// The cost of pairing, printed (run with `--ignored --nocapture`): the inexact round
    /// at its bound (400 deleted × 400 created files of about 2 KiB, each created file an
    /// edited copy of a deleted one), and a large plan paired by hash only.
    #[test]
    #[ignore]
    #[allow(clippy::print_stdout)]
    fn cost() {
        let text = |i: usize, edit: bool| -> String {
            let mut t: String = (0..80)
                .map(|l| format!("file {i} line {l} some words\n"))
                .collect();
            if edit {
                t.push_str("one more line\n");
            }
            t
        };
        let n = 400;
        let mut blobs = HashMap::new();
        let mut changes = Vec::new();
        for i in 0..n {
            let (a, b) = (text(i, false), text(i, true));
            changes.push(change(&format!("old/{i}.txt"), file(&a), State::Absent));
            changes.push(change(
                &format!("new/{}.txt", n - 1 - i),
                State::Absent,
                file(&b),
            ));
            blobs.insert(sha256_hex(a.as_bytes()), a.into_bytes());
            blobs.insert(sha256_hex(b.as_bytes()), b.into_bytes());
        }
        let t = std::time::Instant::now();
        let got = detect(&changes, &|_, h| blobs.get(h).cloned());
        println!(
            "inexact {n} x {n}: {} renames in {:?}",
            got.len(),
            t.elapsed()
        );
        assert_eq!(got.len(), n);
        let m = 20_000;
        let changes: Vec<Change> = (0..m)
            .flat_map(|i| {
                let st = file(&format!("{i}\n"));
                [
                    change(&format!("a/{i}"), st.clone(), State::Absent),
                    change(&format!("b/{i}"), State::Absent, st),
                ]
            })
            .collect();
        let t = std::time::Instant::now();
        let got = detect(&changes, &|_, _| None);
        println!(
            "exact {m} x {m}: {} renames in {:?}",
            got.len(),
            t.elapsed()
        );
        assert_eq!(got.len(), m);
    }

    #[test]
    fn labels_factor_common_folders_as_git_does() {
        assert_eq!(label("a.txt", "b.txt"), "a.txt => b.txt");
        assert_eq!(
            label("src/old/lib.rs", "src/new/lib.rs"),
            "src/{old => new}/lib.rs"
        );
        assert_eq!(label("docs/a.md", "docs/b.md"), "docs/{a.md => b.md}");
        assert_eq!(label("a/x", "b/x"), "{a => b}/x");
        assert_eq!(label("x", "sub/x"), "x => sub/x");
        assert_eq!(label("src/a/x", "src/x"), "src/{a => }/x");
    }
}
