//! What a brand-new node starts with.

use trireme_storage::Store;

/// The empty catalog of a new node: no user databases; the system schemas
/// (information_schema, mysql, ...) are answered virtually.
pub fn init_catalog(store: &Store) {
    let cat = (*store.catalog()).clone();
    store.set_catalog(cat);
}

/// A random RFC 4122 version-4 UUID (cluster state UUID).
pub fn new_uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    format_uuid(&b)
}

/// 16 bytes in the 8-4-4-4-12 hex form.
pub fn format_uuid(b: &[u8; 16]) -> String {
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// What a seed node (`bootstrap_if_empty`) with an empty data directory
/// does, given what the other listed members answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seed {
    /// Every other member answered and none belongs to a cluster: this is
    /// the first start of the deployment.
    Bootstrap,
    /// A member belongs to a cluster: this node was wiped (or is new) and
    /// joins it by state transfer.
    Join,
    /// These members did not answer. They may hold the cluster's data
    /// (stopped, restarting, partitioned), so forming a cluster now could
    /// start a second history: ask again.
    Wait(Vec<String>),
}

/// The seed's rule. A wiped seed must never form a second cluster while
/// the others are alive; requiring an answer from every listed member
/// (rather than "nobody answered") also covers the others being down or
/// unreachable for a while.
pub fn seed_decision(members: &[crate::state::Probed]) -> Seed {
    if members.iter().any(|(_, r)| matches!(r, Ok(Some(_)))) {
        return Seed::Join;
    }
    let silent: Vec<String> = members
        .iter()
        .filter(|(_, r)| r.is_err())
        .map(|(a, _)| a.clone())
        .collect();
    if silent.is_empty() {
        Seed::Bootstrap
    } else {
        Seed::Wait(silent)
    }
}

/// Asks the listed members until [`seed_decision`] settles, for at most
/// `wait`; `Ok(true)` means bootstrap. Waiting is logged when the set of
/// silent members changes and at most every 10 s otherwise.
pub async fn seed_should_bootstrap(
    gcfg: &trireme_gcs::GcsConfig,
    wait: std::time::Duration,
) -> anyhow::Result<bool> {
    use std::time::{Duration, Instant};
    let deadline = Instant::now() + wait;
    let mut last: Option<(Vec<String>, Instant)> = None;
    loop {
        let members = trireme_gcs::Gcs::probe_members(gcfg)
            .await
            .map_err(|e| anyhow::anyhow!("asking the listed members (bootstrap_if_empty): {e}"))?;
        match seed_decision(&members) {
            Seed::Bootstrap => {
                tracing::info!("bootstrap_if_empty: empty data directory and no listed member belongs to a cluster: forming a new one");
                return Ok(true);
            }
            Seed::Join => {
                tracing::info!(
                    "bootstrap_if_empty: a listed member belongs to a cluster: joining it"
                );
                return Ok(false);
            }
            Seed::Wait(silent) => {
                let now = Instant::now();
                if now >= deadline {
                    anyhow::bail!(
                        "bootstrap_if_empty: the data directory is empty and {} did not answer within {} ms; they may hold the cluster's data, so this node will not form a new cluster. Start them, or bootstrap explicitly (--bootstrap) if they are gone for good",
                        silent.join(", "),
                        wait.as_millis()
                    );
                }
                let due = match &last {
                    Some((prev, at)) => {
                        *prev != silent || now.duration_since(*at) >= Duration::from_secs(10)
                    }
                    None => true,
                };
                if due {
                    tracing::warn!(silent = ?silent, "bootstrap_if_empty: waiting for every listed member to answer before deciding to form or join a cluster");
                    last = Some((silent, now));
                }
                tokio::time::sleep(
                    Duration::from_secs(1).min(deadline.saturating_duration_since(now)),
                )
                .await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probed(a: &str, r: Result<Option<&str>, &str>) -> crate::state::Probed {
        (
            a.to_string(),
            r.map(|u| u.map(str::to_string)).map_err(str::to_string),
        )
    }

    #[test]
    fn a_seed_forms_a_cluster_only_when_every_member_answers_empty() {
        assert_eq!(seed_decision(&[]), Seed::Bootstrap, "a one-node cluster");
        assert_eq!(
            seed_decision(&[probed("b", Ok(None)), probed("c", Ok(None))]),
            Seed::Bootstrap
        );
        assert_eq!(
            seed_decision(&[probed("b", Ok(None)), probed("c", Err("timeout"))]),
            Seed::Wait(vec!["c".into()]),
            "c may hold the cluster's data"
        );
        assert_eq!(
            seed_decision(&[probed("b", Err("x")), probed("c", Err("y"))]),
            Seed::Wait(vec!["b".into(), "c".into()]),
            "a wiped seed alone never forms a cluster"
        );
        assert_eq!(
            seed_decision(&[probed("b", Err("x")), probed("c", Ok(Some("u")))]),
            Seed::Join,
            "a running cluster wins"
        );
    }
}
