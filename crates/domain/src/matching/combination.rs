//! Bounded subset-sum: which of a client's open invoices add up to a payment.

/// Finds subsets of `amounts` (each positive) of size `2..=max_size` whose sum lies in
/// `[target, target + tolerance]` (the payment may be short by fees), visiting at most `budget`
/// search nodes.
///
/// Returns up to two solutions (index lists in ascending order, searched in input order, exact
/// sums first) — two are enough to know that the answer is ambiguous.
#[must_use]
pub fn find_combinations(
    amounts: &[i64],
    target: i64,
    tolerance: i64,
    max_size: usize,
    budget: u32,
) -> Vec<Vec<usize>> {
    let mut search = Search {
        amounts,
        low: target,
        high: target.saturating_add(tolerance.max(0)),
        max_size,
        budget,
        chosen: Vec::new(),
        found: Vec::new(),
        suffix_sums: suffix_sums(amounts),
    };
    search.descend(0, 0);
    // Exact sums first; a sum that needs the fee tolerance is no rival to an exact one.
    // Otherwise discovery order (deterministic).
    let any_exact = search.found.iter().any(|(sum, _)| *sum == target);
    search
        .found
        .into_iter()
        .filter(|(sum, _)| !any_exact || *sum == target)
        .map(|(_, s)| s)
        .take(2)
        .collect()
}

fn suffix_sums(amounts: &[i64]) -> Vec<i64> {
    let mut sums = vec![0_i64; amounts.len() + 1];
    for i in (0..amounts.len()).rev() {
        sums[i] = sums[i + 1].saturating_add(amounts[i]);
    }
    sums
}

struct Search<'a> {
    amounts: &'a [i64],
    low: i64,
    high: i64,
    max_size: usize,
    budget: u32,
    chosen: Vec<usize>,
    found: Vec<(i64, Vec<usize>)>,
    suffix_sums: Vec<i64>,
}

impl Search<'_> {
    fn descend(&mut self, start: usize, sum: i64) {
        if self.found.len() >= 3 {
            return;
        }
        for i in start..self.amounts.len() {
            if self.budget == 0 {
                return;
            }
            self.budget -= 1;
            let next = sum.saturating_add(self.amounts[i]);
            if next > self.high {
                continue;
            }
            // Even taking everything that is left cannot reach the target.
            if sum.saturating_add(self.suffix_sums[i]) < self.low {
                return;
            }
            self.chosen.push(i);
            if next >= self.low && self.chosen.len() >= 2 {
                self.found.push((next, self.chosen.clone()));
            }
            if self.chosen.len() < self.max_size {
                self.descend(i + 1, next);
            }
            self.chosen.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_invoices_that_add_up_are_found() {
        assert_eq!(
            find_combinations(&[1000, 2500, 4000], 3500, 0, 5, 1000),
            vec![vec![0, 1]]
        );
    }

    #[test]
    fn several_solutions_are_reported_so_that_ambiguity_is_visible() {
        let found = find_combinations(&[1000, 1000, 1000], 2000, 0, 5, 1000);
        assert_eq!(found.len(), 2);
    }

    #[test]
    fn the_search_stops_at_its_budget() {
        let amounts: Vec<i64> = (1..=40).map(|i| i * 7919).collect();
        assert!(find_combinations(&amounts, 1, 0, 5, 100).is_empty());
    }

    #[test]
    fn a_single_invoice_is_not_a_combination() {
        assert!(find_combinations(&[1000, 3000], 1000, 0, 5, 1000).is_empty());
    }
}
