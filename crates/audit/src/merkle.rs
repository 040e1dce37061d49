//! The Merkle tree of RFC 9162 (as in RFC 6962): leaf `SHA-256(0x00 ‖ entry)`, node
//! `SHA-256(0x01 ‖ left ‖ right)`, a tree of `n` leaves split at the largest power of two below
//! `n`. Inclusion and consistency proofs are generated and verified by the RFC's algorithms.
//!
//! Stored nodes are the *complete aligned subtrees*: node `(level, index)` covers leaves
//! `index·2^level .. (index+1)·2^level`. Every hash any proof or root needs is such a node or
//! combines them, so a [`NodeSource`] that answers for complete subtrees is enough.

use sha2::{Digest, Sha256};
use std::collections::HashMap;

pub type Hash = [u8; 32];

/// The root of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(entry);
    h.finalize().into()
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two strictly below `n` (`n` ≥ 2): where RFC 9162 splits a tree.
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// A complete aligned subtree: `level` 0 is a leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub level: u8,
    pub index: u64,
}

impl NodeId {
    /// The first leaf it covers and how many.
    pub fn leaves(self) -> (u64, u64) {
        (self.index << self.level, 1 << self.level)
    }
}

/// Where the hashes of complete subtrees come from (the database, a bundle, memory).
pub trait NodeSource {
    fn node(&self, id: NodeId) -> Option<Hash>;
}

impl NodeSource for HashMap<NodeId, Hash> {
    fn node(&self, id: NodeId) -> Option<Hash> {
        self.get(&id).copied()
    }
}

/// A hash the source did not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the tree node at level {}, index {} is missing", .0.level, .0.index)]
pub struct MissingNode(pub NodeId);

/// The complete subtrees that make up `start..end`, left to right, as RFC 9162's recursion
/// splits it (with `start` a multiple of the largest power of two not above `end - start`).
pub fn decompose(start: u64, end: u64) -> Vec<NodeId> {
    let mut out = Vec::new();
    let mut at = start;
    while at < end {
        // The largest aligned power-of-two block starting at `at` that fits.
        let fit = 63 - (end - at).leading_zeros();
        let align = if at == 0 { 63 } else { at.trailing_zeros() };
        let level = fit.min(align) as u8;
        out.push(NodeId { level, index: at >> level });
        at += 1 << level;
    }
    out
}

/// MTH(D[start:end]).
pub fn subtree_hash(src: &dyn NodeSource, start: u64, end: u64) -> Result<Hash, MissingNode> {
    let n = end - start;
    if n.is_power_of_two() && start.is_multiple_of(n) {
        let id = NodeId { level: n.trailing_zeros() as u8, index: start / n };
        return src.node(id).ok_or(MissingNode(id));
    }
    let k = split(n);
    Ok(node_hash(&subtree_hash(src, start, start + k)?, &subtree_hash(src, start + k, end)?))
}

/// The root of the tree of the first `size` leaves.
pub fn root(src: &dyn NodeSource, size: u64) -> Result<Hash, MissingNode> {
    if size == 0 { Ok(empty_root()) } else { subtree_hash(src, 0, size) }
}

/// Folds the hashes of [`decompose`]`(0, size)` into the root.
pub fn root_from_frontier(frontier: &[Hash]) -> Hash {
    let mut iter = frontier.iter().rev();
    let Some(last) = iter.next() else { return empty_root() };
    iter.fold(*last, |acc, left| node_hash(left, &acc))
}

/// RFC 9162 §2.1.3.1: the audit path of leaf `index` in the tree of `size` leaves.
pub fn inclusion_proof(src: &dyn NodeSource, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
    if index >= size {
        return Err(ProofError::OutOfRange);
    }
    let mut proof = Vec::new();
    path(src, index, 0, size, &mut proof)?;
    Ok(proof)
}

fn path(src: &dyn NodeSource, m: u64, start: u64, n: u64, out: &mut Vec<Hash>) -> Result<(), MissingNode> {
    if n == 1 {
        return Ok(());
    }
    let k = split(n);
    if m < k {
        path(src, m, start, k, out)?;
        out.push(subtree_hash(src, start + k, start + n)?);
    } else {
        path(src, m - k, start + k, n - k, out)?;
        out.push(subtree_hash(src, start, start + k)?);
    }
    Ok(())
}

/// RFC 9162 §2.1.4.1: proof that the tree of `old` leaves is a prefix of the tree of `new`.
pub fn consistency_proof(src: &dyn NodeSource, old: u64, new: u64) -> Result<Vec<Hash>, ProofError> {
    if old > new {
        return Err(ProofError::OutOfRange);
    }
    let mut proof = Vec::new();
    if old > 0 && old < new {
        subproof(src, old, 0, new, true, &mut proof)?;
    }
    Ok(proof)
}

fn subproof(
    src: &dyn NodeSource,
    m: u64,
    start: u64,
    n: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) -> Result<(), MissingNode> {
    if m == n {
        if !whole {
            out.push(subtree_hash(src, start, start + n)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m <= k {
        subproof(src, m, start, k, whole, out)?;
        out.push(subtree_hash(src, start + k, start + n)?);
    } else {
        subproof(src, m - k, start + k, n - k, false, out)?;
        out.push(subtree_hash(src, start, start + k)?);
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("the requested sizes or index are outside the tree")]
    OutOfRange,
    #[error(transparent)]
    Missing(#[from] MissingNode),
}

/// RFC 9162 §2.1.3.2.
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && r == *root
}

/// RFC 9162 §2.1.4.2, with its edge cases made explicit: every tree extends the empty tree,
/// and a tree is consistent with itself only under an empty proof.
pub fn verify_consistency(old: u64, new: u64, old_root: &Hash, new_root: &Hash, proof: &[Hash]) -> bool {
    if old > new {
        return false;
    }
    if old == new {
        return proof.is_empty() && old_root == new_root;
    }
    if old == 0 {
        return proof.is_empty();
    }
    if proof.is_empty() {
        return false;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut fnode, mut snode) = (old - 1, new - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    fr == *old_root && sr == *new_root && snode == 0
}

/// Grows a tree leaf by leaf from its frontier, reporting every subtree that completes — what
/// the log stores — and the root at any size.
#[derive(Debug, Clone, Default)]
pub struct TreeBuilder {
    size: u64,
    /// The frontier: complete subtrees of strictly decreasing level, left to right.
    stack: Vec<(u8, Hash)>,
}

impl TreeBuilder {
    /// Resumes a tree of `size` leaves from the hashes of [`decompose`]`(0, size)`.
    pub fn from_frontier(size: u64, frontier: &[Hash]) -> Result<Self, ProofError> {
        let ids = decompose(0, size);
        if ids.len() != frontier.len() {
            return Err(ProofError::OutOfRange);
        }
        Ok(TreeBuilder { size, stack: ids.iter().map(|id| id.level).zip(frontier.iter().copied()).collect() })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Adds the next leaf; `completed` receives each complete subtree of level ≥ 1 it closes.
    pub fn push(&mut self, leaf: Hash, completed: impl FnMut(NodeId, Hash)) {
        self.push_subtree(0, leaf, completed);
    }

    /// Adds the `2^level` next leaves at once, by the hash of their complete subtree; the tree's
    /// size must be a multiple of `2^level` (the subtree is aligned).
    pub fn push_subtree(&mut self, level: u8, hash: Hash, mut completed: impl FnMut(NodeId, Hash)) {
        debug_assert!(self.size.is_multiple_of(1 << level));
        self.stack.push((level, hash));
        self.size += 1 << level;
        while let [.., (l1, left), (l2, right)] = self.stack[..] {
            if l1 != l2 {
                break;
            }
            self.stack.truncate(self.stack.len() - 2);
            let parent = node_hash(&left, &right);
            let level = l1 + 1;
            completed(NodeId { level, index: (self.size >> level) - 1 }, parent);
            self.stack.push((level, parent));
        }
    }

    pub fn frontier(&self) -> Vec<Hash> {
        self.stack.iter().map(|(_, h)| *h).collect()
    }

    pub fn root(&self) -> Hash {
        root_from_frontier(&self.frontier())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn unhex(s: &str) -> Hash {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    /// The RFC 6962 reference leaves used by Certificate Transparency implementations.
    fn reference_leaves() -> Vec<Vec<u8>> {
        ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
            .iter()
            .map(|h| hex::decode(h).unwrap())
            .collect()
    }

    /// Roots of the first 0..=8 reference leaves.
    const REFERENCE_ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    /// A tree in memory: every complete subtree of `leaves`.
    fn build(leaves: &[Hash]) -> HashMap<NodeId, Hash> {
        let mut nodes = HashMap::new();
        let mut b = TreeBuilder::default();
        for (i, leaf) in leaves.iter().enumerate() {
            nodes.insert(NodeId { level: 0, index: i as u64 }, *leaf);
            b.push(*leaf, |id, h| {
                nodes.insert(id, h);
            });
        }
        nodes
    }

    #[test]
    fn reference_roots() {
        let leaves: Vec<Hash> = reference_leaves().iter().map(|l| leaf_hash(l)).collect();
        let nodes = build(&leaves);
        let mut b = TreeBuilder::default();
        assert_eq!(b.root(), unhex(REFERENCE_ROOTS[0]));
        for (n, leaf) in leaves.iter().enumerate() {
            b.push(*leaf, |_, _| {});
            let want = unhex(REFERENCE_ROOTS[n + 1]);
            assert_eq!(b.root(), want, "incremental root at size {}", n + 1);
            assert_eq!(root(&nodes, n as u64 + 1).unwrap(), want, "stored-node root at size {}", n + 1);
        }
    }

    #[test]
    fn reference_proofs() {
        let leaves: Vec<Hash> = reference_leaves().iter().map(|l| leaf_hash(l)).collect();
        let nodes = build(&leaves);
        let inclusion: [(u64, u64, &[&str]); 2] = [
            (
                0,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                8,
                &[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
        ];
        for (index, size, want) in inclusion {
            let got = inclusion_proof(&nodes, index, size).unwrap();
            assert_eq!(got, want.iter().map(|h| unhex(h)).collect::<Vec<_>>(), "inclusion {index}/{size}");
            let r = unhex(REFERENCE_ROOTS[size as usize]);
            assert!(verify_inclusion(&leaves[index as usize], index, size, &got, &r));
        }
        let consistency: [(u64, u64, &[&str]); 3] = [
            (
                2,
                8,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                8,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                5,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for (old, new, want) in consistency {
            let got = consistency_proof(&nodes, old, new).unwrap();
            assert_eq!(got, want.iter().map(|h| unhex(h)).collect::<Vec<_>>(), "consistency {old}→{new}");
            let (r1, r2) = (unhex(REFERENCE_ROOTS[old as usize]), unhex(REFERENCE_ROOTS[new as usize]));
            assert!(verify_consistency(old, new, &r1, &r2, &got));
        }
    }

    /// Every proof in every small tree verifies, and a proof altered in any way does not.
    #[test]
    fn all_shapes() {
        let leaves: Vec<Hash> = (0u8..40).map(|i| leaf_hash(&[i, i.wrapping_mul(7)])).collect();
        let nodes = build(&leaves);
        let roots: Vec<Hash> = (0..=40).map(|n| root(&nodes, n).unwrap()).collect();
        for n in 1..=40u64 {
            for i in 0..n {
                let proof = inclusion_proof(&nodes, i, n).unwrap();
                assert!(verify_inclusion(&leaves[i as usize], i, n, &proof, &roots[n as usize]));
                assert!(
                    !verify_inclusion(&leaves[i as usize], i ^ 1, n, &proof, &roots[n as usize]) || n == 1
                );
                if let Some(first) = proof.first() {
                    let mut bad = proof.clone();
                    bad[0][0] ^= 1;
                    assert!(!verify_inclusion(&leaves[i as usize], i, n, &bad, &roots[n as usize]));
                    assert!(!verify_inclusion(first, i, n, &proof[..proof.len() - 1], &roots[n as usize]));
                }
            }
            for m in 0..=n {
                let proof = consistency_proof(&nodes, m, n).unwrap();
                assert!(verify_consistency(m, n, &roots[m as usize], &roots[n as usize], &proof), "{m}→{n}");
                if 0 < m && m < n {
                    let mut bad = proof.clone();
                    let last = bad.len() - 1;
                    bad[last][5] ^= 0x80;
                    assert!(!verify_consistency(m, n, &roots[m as usize], &roots[n as usize], &bad));
                    assert!(!verify_consistency(m, n, &roots[m as usize], &roots[n as usize], &proof[1..]));
                }
            }
        }
        assert!(!verify_consistency(4, 4, &roots[4], &roots[5], &[]));
        assert!(!verify_consistency(5, 4, &roots[5], &roots[4], &[]));
    }

    #[test]
    fn decomposition_and_frontier() {
        assert_eq!(decompose(0, 0), vec![]);
        assert_eq!(
            decompose(0, 13).iter().map(|n| (n.level, n.index)).collect::<Vec<_>>(),
            vec![(3, 0), (2, 2), (0, 12)]
        );
        assert_eq!(
            decompose(6, 11).iter().map(|n| (n.level, n.index)).collect::<Vec<_>>(),
            vec![(1, 3), (1, 4), (0, 10)]
        );
        let leaves: Vec<Hash> = (0u8..13).map(|i| leaf_hash(&[i])).collect();
        let nodes = build(&leaves);
        for size in 0..=13u64 {
            let frontier: Vec<Hash> = decompose(0, size).iter().map(|id| nodes[id]).collect();
            let mut b = TreeBuilder::from_frontier(size, &frontier).unwrap();
            assert_eq!(b.root(), root(&nodes, size).unwrap());
            for leaf in &leaves[size as usize..] {
                b.push(*leaf, |id, h| assert_eq!(nodes[&id], h, "completed node {id:?}"));
            }
            assert_eq!(b.root(), root(&nodes, 13).unwrap());
        }
    }
}
