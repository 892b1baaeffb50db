//! The pure part of sharding: which member owns which app.
//!
//! An app key (`namespace/name`) maps to one of [`PARTITIONS`] fixed hash partitions; the
//! partitions are spread over the members by consistent hashing with bounded loads (a ring of
//! [`VNODES`] virtual nodes per member; each partition, visited in a fixed order, goes to the
//! first member clockwise from its hash whose load is below `ceil(1.25 * P / members)`).
//! Ownership depends only on the member set, never on the apps: replicas that see different
//! app lists still agree. The hashes are FNV-1a 64 followed by a SplitMix64 finalizer: fixed,
//! keyless, identical across processes, platforms and versions.

/// Number of hash partitions the apps are grouped in.
pub const PARTITIONS: u32 = 1024;
/// Virtual nodes per member on the ring.
pub const VNODES: u32 = 100;
/// Bound on a member's load, as a multiple of the mean (`c` of consistent hashing with
/// bounded loads).
pub const LOAD_FACTOR: f64 = 1.25;

/// FNV-1a 64 of `bytes`, then SplitMix64's finalizer (FNV alone spreads short, similar keys
/// such as `member#1`, `member#2` badly over the high bits).
pub fn stable_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The partition of the app `namespace/name`.
pub fn partition_of(namespace: &str, name: &str) -> u32 {
    let key = format!("{namespace}/{name}");
    (stable_hash(key.as_bytes()) % u64::from(PARTITIONS)) as u32
}

/// The owner of every partition for one member set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The members, sorted and de-duplicated.
    members: Vec<String>,
    /// Index into `members` of each partition's owner (empty when there is no member).
    owner: Vec<u16>,
}

impl Assignment {
    /// Assigns the partitions to `members` (any order; duplicates ignored).
    pub fn new<S: AsRef<str>>(members: &[S]) -> Assignment {
        let mut members: Vec<String> = members.iter().map(|m| m.as_ref().to_string()).collect();
        members.sort();
        members.dedup();
        members.truncate(usize::from(u16::MAX));
        if members.is_empty() {
            return Assignment {
                members,
                owner: Vec::new(),
            };
        }
        let mut ring: Vec<(u64, u16)> = Vec::with_capacity(members.len() * VNODES as usize);
        for (i, m) in members.iter().enumerate() {
            for v in 0..VNODES {
                let h = stable_hash(format!("{m}#{v}").as_bytes());
                ring.push((h, i as u16));
            }
        }
        ring.sort_unstable();
        let cap = (LOAD_FACTOR * f64::from(PARTITIONS) / members.len() as f64).ceil() as usize;
        let mut load = vec![0usize; members.len()];
        let mut owner = Vec::with_capacity(PARTITIONS as usize);
        for p in 0..PARTITIONS {
            let h = stable_hash(format!("partition-{p}").as_bytes());
            let start = ring.partition_point(|(rh, _)| *rh < h);
            let mut chosen = 0u16;
            for k in 0..ring.len() {
                let (_, m) = ring[(start + k) % ring.len()];
                if load[usize::from(m)] < cap {
                    chosen = m;
                    break;
                }
            }
            load[usize::from(chosen)] += 1;
            owner.push(chosen);
        }
        Assignment { members, owner }
    }

    /// The sorted members.
    pub fn members(&self) -> &[String] {
        &self.members
    }

    /// The owner of partition `p`, `None` without members.
    pub fn owner_of_partition(&self, p: u32) -> Option<&str> {
        let i = *self.owner.get(p as usize)?;
        self.members.get(usize::from(i)).map(String::as_str)
    }

    /// The owner of the app `namespace/name`, `None` without members.
    pub fn owner_of(&self, namespace: &str, name: &str) -> Option<&str> {
        self.owner_of_partition(partition_of(namespace, name))
    }

    /// Which partitions `member` owns (index = partition).
    pub fn owned_by(&self, member: &str) -> Vec<bool> {
        (0..PARTITIONS)
            .map(|p| self.owner_of_partition(p) == Some(member))
            .collect()
    }
}

/// A short, stable digest of a member set (the `fjord.dev/view` annotation value).
pub fn view_hash<S: AsRef<str>>(members: &[S]) -> String {
    let mut sorted: Vec<&str> = members.iter().map(AsRef::as_ref).collect();
    sorted.sort_unstable();
    sorted.dedup();
    format!("{:016x}", stable_hash(sorted.join("\n").as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIN_GUESTBOOK: u64 = 0x39da_fd67_c1dd_8bca;

    fn apps(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("app-{i}")).collect()
    }

    fn members(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("fjord-controller-{i}")).collect()
    }

    /// Share of `apps` whose owner differs between the two member sets.
    fn moved(apps: &[String], from: &[String], to: &[String]) -> f64 {
        let (a, b) = (Assignment::new(from), Assignment::new(to));
        let n = apps
            .iter()
            .filter(|x| a.owner_of("argocd", x) != b.owner_of("argocd", x))
            .count();
        n as f64 / apps.len() as f64
    }

    /// Largest load over mean load of `apps` on `m`.
    fn imbalance(apps: &[String], m: &[String]) -> f64 {
        let a = Assignment::new(m);
        let mut counts = std::collections::HashMap::new();
        for x in apps {
            *counts.entry(a.owner_of("argocd", x)).or_insert(0usize) += 1;
        }
        let max = counts.values().copied().max().unwrap_or(0) as f64;
        max / (apps.len() as f64 / m.len() as f64)
    }

    #[test]
    fn hash_is_fixed() {
        // Pinned values: a change here would move apps between replicas on upgrade, and
        // replicas of two versions would disagree.
        assert_eq!(stable_hash(b""), 0xf52a_15e9_a9b5_e89b);
        assert_eq!(
            stable_hash(b"argocd/guestbook"),
            PIN_GUESTBOOK,
            "{:#x}",
            stable_hash(b"argocd/guestbook")
        );
        assert_eq!(
            u64::from(partition_of("argocd", "guestbook")),
            PIN_GUESTBOOK % u64::from(PARTITIONS)
        );
    }

    #[test]
    fn every_partition_has_one_owner_within_capacity() {
        for n in 1..=12 {
            let a = Assignment::new(&members(n));
            let cap = (LOAD_FACTOR * f64::from(PARTITIONS) / n as f64).ceil() as usize;
            let mut load = vec![0usize; n];
            for p in 0..PARTITIONS {
                let o = a.owner_of_partition(p).expect("owner");
                let i = a.members().iter().position(|m| m == o).expect("member");
                load[i] += 1;
            }
            assert!(load.iter().all(|l| *l <= cap), "{n}: {load:?} cap {cap}");
            assert!(load.iter().all(|l| *l > 0), "{n}: {load:?}");
        }
    }

    #[test]
    fn order_and_duplicates_of_members_do_not_matter() {
        let a = Assignment::new(&["b", "a", "c"]);
        let b = Assignment::new(&["c", "a", "b", "a"]);
        assert_eq!(a, b);
        assert_eq!(view_hash(&["b", "a"]), view_hash(&["a", "b", "b"]));
        assert_ne!(view_hash(&["a"]), view_hash(&["a", "b"]));
    }

    #[test]
    fn no_member_owns_nothing() {
        let a = Assignment::new::<&str>(&[]);
        assert_eq!(a.owner_of("argocd", "x"), None);
    }

    #[test]
    fn moved_share_three_to_two_and_back() {
        let apps = apps(600);
        let three = members(3);
        for gone in 0..3 {
            let two: Vec<String> = three
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != gone)
                .map(|(_, m)| m.clone())
                .collect();
            let down = moved(&apps, &three, &two);
            let up = moved(&apps, &two, &three);
            eprintln!("3->2 (member {gone} leaves): {down:.3}; 2->3: {up:.3}");
            assert!(down < 0.45, "3->2 moved {down}");
            assert!(up < 0.45, "2->3 moved {up}");
        }
    }

    #[test]
    fn moved_share_ten_to_nine() {
        let apps = apps(3000);
        let ten = members(10);
        let nine = &ten[..9];
        let share = moved(&apps, &ten, nine);
        eprintln!("10->9: {share:.3}");
        // Ideal is 0.10; Argo CD's own tests moved 0.75.
        assert!(share < 0.25, "10->9 moved {share}");
    }

    #[test]
    fn load_is_balanced() {
        let apps = apps(3000);
        for n in [2, 3, 5, 10] {
            let r = imbalance(&apps, &members(n));
            eprintln!("{n} members: max/mean {r:.3}");
            assert!(r < 1.35, "{n} members: max/mean {r}");
        }
    }
}
