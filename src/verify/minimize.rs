//! Delta debugging (Zeller's ddmin) over the candidate mounts: the smallest subset with which the
//! image still passes, where each removal from it fails. Subsets are tested in batches so that a
//! batch's runs can go in parallel.

use std::collections::BTreeMap;

use anyhow::Result;

/// A subset of the candidates, by index, ascending.
pub type Subset = Vec<usize>;

/// Runs the image with each subset of mounts and says which pass.
pub trait Oracle {
    async fn test(&mut self, subsets: &[Subset]) -> Result<Vec<bool>>;

    /// The candidates over the paths that the read-only errors of `subset`'s run named (a
    /// subset already tested).
    fn named(&self, subset: &[usize]) -> Subset;

    /// Whether the runs so far show that `subset` fails without running it: it lacks a
    /// candidate that a failed run showed to be needed.
    fn known_fail(&self, _subset: &[usize]) -> bool {
        false
    }
}

/// Every outcome the search has seen, so no subset runs twice.
#[derive(Debug, Default)]
pub struct Outcomes(pub BTreeMap<Subset, bool>);

impl Outcomes {
    pub fn get(&self, subset: &[usize]) -> Option<bool> {
        self.0.get(subset).copied()
    }

    /// Tests the subsets not seen yet, in one batch, and returns every subset's outcome.
    pub async fn test(
        &mut self,
        oracle: &mut impl Oracle,
        subsets: &[Subset],
    ) -> Result<Vec<bool>> {
        let mut fresh: Vec<Subset> = vec![];
        for s in subsets {
            if self.0.contains_key(s) || fresh.contains(s) {
                continue;
            }
            if oracle.known_fail(s) {
                self.0.insert(s.clone(), false);
            } else {
                fresh.push(s.clone());
            }
        }
        if !fresh.is_empty() {
            let results = oracle.test(&fresh).await?;
            self.0.extend(fresh.into_iter().zip(results));
        }
        Ok(subsets.iter().map(|s| self.0[s]).collect())
    }
}

/// The fewest of `n` candidates with which the image passes, or None when no set tried passes;
/// the empty set is known to fail (in `seen`). The read-only errors of a failed run name the
/// candidates to try: the guess grows by what each failure of it names. Only when they stop
/// naming new ones does the full set run, and when a mount breaks the app that fails too: then
/// every set of all but one is tried. Delta debugging makes the passing set 1-minimal.
pub async fn search(
    n: usize,
    oracle: &mut impl Oracle,
    seen: &mut Outcomes,
) -> Result<Option<Subset>> {
    let mut guess = oracle.named(&[]);
    while !guess.is_empty() && seen.get(&guess).is_none() {
        if seen.test(oracle, std::slice::from_ref(&guess)).await?[0] {
            break;
        }
        let more: Subset = oracle
            .named(&guess)
            .into_iter()
            .filter(|i| !guess.contains(i))
            .collect();
        if more.is_empty() {
            break;
        }
        guess.extend(more);
        guess.sort_unstable();
    }
    if !guess.is_empty() && seen.get(&guess) == Some(true) {
        return ddmin(guess, oracle, seen).await.map(Some);
    }
    let everything: Subset = (0..n).collect();
    if seen.test(oracle, std::slice::from_ref(&everything)).await?[0] {
        return ddmin(everything, oracle, seen).await.map(Some);
    }
    if n < 2 {
        return Ok(None);
    }
    let all_but_one: Vec<Subset> = (0..n)
        .map(|drop| everything.iter().copied().filter(|&i| i != drop).collect())
        .collect();
    let passed = seen.test(oracle, &all_but_one).await?;
    match passed.iter().position(|&p| p) {
        Some(i) => ddmin(all_but_one[i].clone(), oracle, seen).await.map(Some),
        None => Ok(None),
    }
}

/// A 1-minimal passing subset of `passing`, given that it passes and the empty set fails (both
/// already in `seen`). Each round tests the chunks and their complements together: more runs
/// than ddmin's chunks-first order, but one round of parallel runs instead of two.
pub async fn ddmin(
    passing: Subset,
    oracle: &mut impl Oracle,
    seen: &mut Outcomes,
) -> Result<Subset> {
    let mut current = passing;
    let mut granularity = 2;
    while current.len() >= 2 {
        let chunks = split(&current, granularity);
        let complements: Vec<Subset> = chunks
            .iter()
            .map(|chunk| {
                current
                    .iter()
                    .copied()
                    .filter(|i| !chunk.contains(i))
                    .collect()
            })
            .collect();
        let batch: Vec<Subset> = chunks.iter().chain(&complements).cloned().collect();
        let passed = seen.test(oracle, &batch).await?;
        let (chunk_passed, complement_passed) = passed.split_at(chunks.len());
        if let Some(i) = chunk_passed.iter().position(|&p| p) {
            current = chunks[i].clone();
            granularity = 2;
        } else if let Some(i) = complement_passed.iter().position(|&p| p) {
            current = complements[i].clone();
            granularity = (granularity - 1).max(2);
        } else if granularity < current.len() {
            granularity = (granularity * 2).min(current.len());
        } else {
            break;
        }
    }
    Ok(current)
}

/// `set` in `parts` nearly equal, contiguous chunks.
fn split(set: &[usize], parts: usize) -> Vec<Subset> {
    let mut chunks = vec![];
    let mut start = 0;
    for k in 0..parts {
        let end = start + (set.len() - start) / (parts - k);
        chunks.push(set[start..end].to_vec());
        start = end;
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Passes when the subset holds every index in `needed`; counts the runs. Like an app that
    /// stops at its first failed write, a failing run names the first needed index it lacks,
    /// when `names` says the app logs it.
    struct Needs {
        needed: Vec<usize>,
        names: bool,
        runs: usize,
    }

    impl Oracle for Needs {
        async fn test(&mut self, subsets: &[Subset]) -> Result<Vec<bool>> {
            self.runs += subsets.len();
            Ok(subsets
                .iter()
                .map(|s| self.needed.iter().all(|n| s.contains(n)))
                .collect())
        }

        fn named(&self, subset: &[usize]) -> Subset {
            let missing = self.needed.iter().find(|n| !subset.contains(n));
            missing
                .filter(|_| self.names)
                .into_iter()
                .copied()
                .collect()
        }
    }

    async fn minimal(n: usize, needed: &[usize]) -> (Subset, Outcomes) {
        let mut oracle = Needs {
            needed: needed.to_vec(),
            names: false,
            runs: 0,
        };
        let mut seen = Outcomes::default();
        seen.0.insert((0..n).collect(), true);
        seen.0.insert(vec![], needed.is_empty());
        let found = ddmin((0..n).collect(), &mut oracle, &mut seen)
            .await
            .unwrap();
        assert_eq!(oracle.runs + 2, seen.0.len(), "a subset was run twice");
        (found, seen)
    }

    #[tokio::test]
    async fn finds_exactly_the_needed_mounts() {
        for (n, needed) in [
            (1, vec![0]),
            (2, vec![1]),
            (2, vec![0, 1]),
            (5, vec![3]),
            (6, vec![0, 5]),
            (7, vec![1, 2, 6]),
            (8, (0..8).collect()),
        ] {
            let (found, _) = minimal(n, &needed).await;
            assert_eq!(found, needed, "n={n}");
        }
    }

    #[tokio::test]
    async fn every_removal_from_the_result_was_run_and_failed() {
        let (found, seen) = minimal(6, &[2, 4]).await;
        for drop in &found {
            let fewer: Subset = found.iter().copied().filter(|i| i != drop).collect();
            assert_eq!(seen.get(&fewer), Some(false), "{fewer:?} was not run");
        }
    }

    /// What `search` finds and how many runs it takes, from a failed empty set.
    async fn searched(n: usize, needed: &[usize], names: bool) -> (Option<Subset>, usize) {
        let mut oracle = Needs {
            needed: needed.to_vec(),
            names,
            runs: 0,
        };
        let mut seen = Outcomes::default();
        seen.0.insert(vec![], false);
        let found = search(n, &mut oracle, &mut seen).await.unwrap();
        (found, oracle.runs)
    }

    #[tokio::test]
    async fn named_mounts_lead_the_search_and_spare_runs() {
        // One needed of five, named by the failure: one run proves it.
        assert_eq!(searched(5, &[3], true).await, (Some(vec![3]), 1));
        // Two needed, named one at a time: two guesses, then ddmin's one check of {1}.
        assert_eq!(searched(5, &[1, 4], true).await, (Some(vec![1, 4]), 3));
        // Nothing named: the full set, then delta debugging.
        let (found, runs) = searched(5, &[1, 4], false).await;
        assert_eq!(found, Some(vec![1, 4]));
        assert!(runs > 3, "{runs}");
    }

    /// Like [`Needs`], but any subset holding `harmful` fails.
    struct Breaks {
        needs: Needs,
        harmful: usize,
    }

    impl Oracle for Breaks {
        async fn test(&mut self, subsets: &[Subset]) -> Result<Vec<bool>> {
            let passed = self.needs.test(subsets).await?;
            Ok(subsets
                .iter()
                .zip(passed)
                .map(|(s, p)| p && !s.contains(&self.harmful))
                .collect())
        }

        fn named(&self, subset: &[usize]) -> Subset {
            self.needs.named(subset)
        }
    }

    #[tokio::test]
    async fn a_mount_that_breaks_the_app_is_left_out_when_the_full_set_fails() {
        let mut oracle = Breaks {
            needs: Needs {
                needed: vec![0, 3],
                names: false,
                runs: 0,
            },
            harmful: 1,
        };
        let mut seen = Outcomes::default();
        seen.0.insert(vec![], false);
        let found = search(4, &mut oracle, &mut seen).await.unwrap();
        assert_eq!(found, Some(vec![0, 3]));
        assert_eq!(seen.get(&[0, 1, 2, 3]), Some(false));
        assert_eq!(seen.get(&[0, 2, 3]), Some(true));
    }

    /// Like [`Needs`], and, as the proof does, it takes an index that a failed run without it
    /// named as needed: a subset without it fails.
    struct Knows(Needs, Vec<Subset>);

    impl Oracle for Knows {
        async fn test(&mut self, subsets: &[Subset]) -> Result<Vec<bool>> {
            self.1.extend(subsets.iter().cloned());
            self.0.test(subsets).await
        }

        fn named(&self, subset: &[usize]) -> Subset {
            self.0.named(subset)
        }

        fn known_fail(&self, subset: &[usize]) -> bool {
            self.1
                .iter()
                .any(|tested| self.named(tested).iter().any(|n| !subset.contains(n)))
        }
    }

    #[tokio::test]
    async fn removals_known_to_fail_are_not_run() {
        let needs = Needs {
            needed: vec![0, 1, 2, 3],
            names: true,
            runs: 0,
        };
        let mut oracle = Knows(needs, vec![vec![]]);
        let mut seen = Outcomes::default();
        seen.0.insert(vec![], false);
        let found = search(4, &mut oracle, &mut seen).await.unwrap();
        assert_eq!(found, Some(vec![0, 1, 2, 3]));
        // {0}, {0,1}, {0,1,2}, {0,1,2,3}: each failure named the next; no removal ran.
        assert_eq!(oracle.0.runs, 4);
    }

    #[tokio::test]
    async fn a_failure_no_candidate_fixes_is_none() {
        // Needs index 9, which is no candidate: all five fail, and so does every four.
        assert_eq!(searched(5, &[9], false).await, (None, 6));
    }

    #[test]
    fn splits_into_near_equal_chunks() {
        assert_eq!(split(&[0, 1, 2, 3, 4], 2), [vec![0, 1], vec![2, 3, 4]]);
        assert_eq!(split(&[7, 8, 9], 3), [vec![7], vec![8], vec![9]]);
    }
}
