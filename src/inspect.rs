//! Inspect by part: every scenario, atomic task, composition, function or failure of a
//! workspace, each with the samples that hold it and the failures those samples met. Pure:
//! the samples in, the groups out (the store reads them, the TUI shows them).

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::domain::Stage;
use crate::model::{Composition, Failure, FunctionDef, Sample, SubTaskFunctions};

/// What grouping reads of a sample: its lineage without the dialogue (a stored sample is
/// read into this, the messages skipped, several times faster than a whole `Sample`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Lineage {
    pub id: String,
    #[serde(default)]
    pub scenario: Option<String>,
    #[serde(default)]
    pub atomic_task: Option<String>,
    #[serde(default)]
    pub composition: Option<Composition>,
    #[serde(default)]
    pub functions: Vec<SubTaskFunctions>,
    #[serde(default)]
    pub failure: Option<Failure>,
    #[serde(default)]
    pub trajectory: Option<Tools>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Tools {
    #[serde(default)]
    pub tools: Vec<FunctionDef>,
}

impl Lineage {
    pub fn of(s: &Sample) -> Lineage {
        Lineage {
            id: s.id.clone(),
            scenario: s.scenario.clone(),
            atomic_task: s.atomic_task.clone(),
            composition: s.composition.clone(),
            functions: s.functions.clone(),
            failure: s.failure.clone(),
            trajectory: s.trajectory.as_ref().map(|t| Tools { tools: t.tools.clone() }),
        }
    }
}

/// What the browser groups samples by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Browse {
    Scenarios,
    AtomicTasks,
    Compositions,
    Functions,
    Failures,
}

impl Browse {
    pub const ALL: [Browse; 5] =
        [Browse::Scenarios, Browse::AtomicTasks, Browse::Compositions, Browse::Functions, Browse::Failures];

    pub fn title(self) -> &'static str {
        match self {
            Browse::Scenarios => "Scenarios",
            Browse::AtomicTasks => "Atomic tasks",
            Browse::Compositions => "Compositions",
            Browse::Functions => "Functions",
            Browse::Failures => "Failures",
        }
    }

    /// One of them, in words ("atomic task").
    pub fn one(self) -> &'static str {
        match self {
            Browse::Scenarios => "scenario",
            Browse::AtomicTasks => "atomic task",
            Browse::Compositions => "composition",
            Browse::Functions => "function",
            Browse::Failures => "failure",
        }
    }
}

/// One scenario (atomic task, ...) and the samples that hold it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Group {
    /// The text (a function's name, a failure's `stage:reason`).
    pub key: String,
    /// More about it: a composition's strategy and sub-tasks, a function's description and
    /// parameters, a failure's first detail.
    pub detail: String,
    /// The samples, in workspace order.
    pub samples: Vec<String>,
    pub complete: usize,
    pub failed: usize,
    /// The failures of its samples by `stage:reason`, the most frequent first.
    pub failures: Vec<(String, usize)>,
}

/// Groups `samples` by `by`, the groups with most samples first.
pub fn group<'a>(by: Browse, samples: impl IntoIterator<Item = &'a Sample>) -> Vec<Group> {
    let mut g = Grouper::new(by);
    for s in samples {
        g.add(&Lineage::of(s), Stage::of(s));
    }
    g.finish()
}

/// Groups samples one at a time, so a workspace is never held whole.
pub struct Grouper {
    by: Browse,
    groups: Vec<Group>,
    index: HashMap<String, usize>,
    failures: Vec<BTreeMap<String, usize>>,
}

impl Grouper {
    pub fn new(by: Browse) -> Grouper {
        Grouper { by, groups: Vec::new(), index: HashMap::new(), failures: Vec::new() }
    }

    /// A sample, by its lineage and its stage.
    pub fn add(&mut self, s: &Lineage, stage: Stage) {
        for (key, detail) in keys(self.by, s) {
            let i = if let Some(i) = self.index.get(&key) {
                *i
            } else {
                self.index.insert(key.clone(), self.groups.len());
                self.groups.push(Group { key, detail, ..Group::default() });
                self.failures.push(BTreeMap::new());
                self.groups.len() - 1
            };
            let g = &mut self.groups[i];
            // A function a sample holds twice (its sub-task and its trajectory) counts once.
            if g.samples.last() == Some(&s.id) {
                continue;
            }
            g.samples.push(s.id.clone());
            if stage.is_complete() {
                g.complete += 1;
            }
            if let Some(f) = &s.failure {
                g.failed += 1;
                *self.failures[i].entry(format!("{}:{}", f.stage, f.reason)).or_default() += 1;
            }
        }
    }

    /// The groups with most samples first.
    pub fn finish(self) -> Vec<Group> {
        let mut groups = self.groups;
        for (g, f) in groups.iter_mut().zip(self.failures) {
            let mut v: Vec<(String, usize)> = f.into_iter().collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            g.failures = v;
        }
        groups.sort_by(|a, b| {
            b.samples.len().cmp(&a.samples.len()).then(b.failed.cmp(&a.failed)).then(a.key.cmp(&b.key))
        });
        groups
    }
}

/// The groups a sample belongs to under `by`, with their detail.
fn keys(by: Browse, s: &Lineage) -> Vec<(String, String)> {
    match by {
        Browse::Scenarios => s.scenario.iter().map(|x| (x.clone(), String::new())).collect(),
        Browse::AtomicTasks => s
            .atomic_task
            .iter()
            .map(|x| (x.clone(), format!("scenario: {}", s.scenario.as_deref().unwrap_or("-"))))
            .collect(),
        Browse::Compositions => s
            .composition
            .iter()
            .map(|c| {
                let subs: Vec<String> =
                    c.sub_tasks.iter().enumerate().map(|(i, t)| format!("{}. {t}", i + 1)).collect();
                (c.task.clone(), format!("{}\n{}", c.strategy.as_str(), subs.join("\n")))
            })
            .collect(),
        Browse::Functions => s
            .functions
            .iter()
            .flat_map(|st| st.functions.iter())
            .chain(s.trajectory.iter().flat_map(|t| t.tools.iter()))
            .map(|f| {
                let params: Vec<&str> = f
                    .parameters
                    .get("properties")
                    .and_then(|p| p.as_object())
                    .map(|o| o.keys().map(crate::json::Key::as_str).collect())
                    .unwrap_or_default();
                (f.name.clone(), format!("{}({})\n{}", f.name, params.join(", "), f.description))
            })
            .collect(),
        Browse::Failures => s.failure.iter().map(|f| (format!("{}:{}", f.stage, f.reason), f.detail.clone())).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Failure, Origin};

    fn sample(id: &str, scenario: &str, atomic: Option<&str>, failure: Option<(&str, &str)>) -> Sample {
        let mut s = Sample::new(id.into(), Origin::Generated { seed: 0 });
        s.scenario = Some(scenario.into());
        s.atomic_task = atomic.map(Into::into);
        s.failure =
            failure.map(|(stage, reason)| Failure { stage: stage.into(), reason: reason.into(), detail: "why".into() });
        s
    }

    #[test]
    fn samples_are_grouped_by_part_with_the_failures_they_met() {
        let samples = [
            sample("a", "trip", Some("find a flight"), None),
            sample("b", "trip", Some("book a hotel"), Some(("user_agent", "refusal"))),
            sample("c", "trip", Some("book a hotel"), Some(("user_agent", "refusal"))),
            sample("d", "money", None, Some(("atomic_task", "empty_reply"))),
        ];
        let g = group(Browse::Scenarios, &samples);
        assert_eq!(
            g.iter().map(|g| (g.key.as_str(), g.samples.len(), g.failed)).collect::<Vec<_>>(),
            [("trip", 3, 2), ("money", 1, 1)]
        );
        assert_eq!(g[0].failures, [("user_agent:refusal".to_string(), 2)]);
        let g = group(Browse::AtomicTasks, &samples);
        assert_eq!(g.iter().map(|g| g.key.as_str()).collect::<Vec<_>>(), ["book a hotel", "find a flight"]);
        assert_eq!(g[0].samples, ["b", "c"]);
        let g = group(Browse::Failures, &samples);
        assert_eq!(
            g.iter().map(|g| (g.key.as_str(), g.samples.len())).collect::<Vec<_>>(),
            [("user_agent:refusal", 2), ("atomic_task:empty_reply", 1)]
        );
        assert!(group(Browse::Functions, &samples).is_empty());
    }
}
