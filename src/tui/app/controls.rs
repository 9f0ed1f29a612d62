//! The run controls of the pipeline view (start, pause, cancel, the target, the
//! concurrency, the errors panel) and the inspect view's keys.

use super::{Action, App, Effect, Filters, Focus, Overlay, RunFx, RunStatus, StoreFx, View};
use crate::tui::overlay::{Number, Setting};

impl App {
    /// An action of the pipeline or the inspect view.
    pub(super) fn control(&mut self, a: Action, fx: &mut Vec<Effect>) {
        match a {
            Action::StartRun => match self.run.status {
                RunStatus::Paused => {
                    self.run.set_paused(false, self.clock);
                    fx.push(Effect::Run(RunFx::Resume));
                }
                s if s.in_flight() => self.toast("a run is already in flight"),
                _ => {
                    self.run.status = RunStatus::Starting;
                    self.run.message = "starting…".into();
                    fx.push(Effect::Run(RunFx::StartRun { target: self.target, concurrency: self.run.concurrency }));
                }
            },
            Action::PauseResume => match self.run.status {
                RunStatus::Running => {
                    self.run.set_paused(true, self.clock);
                    fx.push(Effect::Run(RunFx::Pause));
                }
                RunStatus::Paused => {
                    self.run.set_paused(false, self.clock);
                    fx.push(Effect::Run(RunFx::Resume));
                }
                _ => self.toast("no run in flight to pause"),
            },
            Action::CancelRun => {
                if matches!(self.run.status, RunStatus::Running | RunStatus::Paused | RunStatus::Starting) {
                    self.run.status = RunStatus::Cancelling;
                    fx.push(Effect::Run(RunFx::CancelRun));
                } else {
                    self.toast("no run in flight to cancel");
                }
            }
            Action::ConcurrencyUp | Action::ConcurrencyDown => {
                let c = self.run.concurrency.unwrap_or(16);
                let n = if a == Action::ConcurrencyUp { (c * 2).min(1024) } else { (c / 2).max(1) };
                self.set_concurrency(n, fx);
            }
            Action::TypeTarget => {
                self.overlay = Some(Overlay::Number(Box::new(Number::new(Setting::Target, self.target))));
            }
            Action::TypeConcurrency => {
                let now = self.run.concurrency.unwrap_or(16);
                self.overlay = Some(Overlay::Number(Box::new(Number::new(Setting::Concurrency, now))));
            }
            Action::ErrorsDown => {
                let n = self.list.failure_reasons().len();
                self.errors_cursor = (self.errors_cursor + 1).min(n.saturating_sub(1));
            }
            Action::ErrorsUp => self.errors_cursor = self.errors_cursor.saturating_sub(1),
            Action::ErrorsOpen => match self.list.failure_reasons().get(self.errors_cursor) {
                Some((reason, n)) => {
                    let (label, ids) = (format!("failed={reason}"), self.list.failed_for(reason));
                    self.toast(format!("{n} samples failed for {reason}: esc lists every sample again"));
                    self.list_only(label, ids, fx);
                }
                None => self.toast("no sample has failed"),
            },
            Action::TargetUp | Action::TargetDown => {
                let t = self.target;
                let step = if t >= 1000 {
                    100
                } else if t >= 100 {
                    50
                } else {
                    10
                };
                let n = if a == Action::TargetUp { t + step } else { t.saturating_sub(step).max(1) };
                self.set_target(n);
            }
            Action::InspectDown | Action::InspectUp | Action::InspectPageDown | Action::InspectPageUp => {
                let page = i64::from(self.areas.inspect.height.saturating_sub(4).max(1));
                let d = match a {
                    Action::InspectDown => 1,
                    Action::InspectUp => -1,
                    Action::InspectPageDown => page,
                    _ => -page,
                };
                let n = self.inspect.groups.as_ref().map_or(0, Vec::len) as i64;
                self.inspect.cursor = (self.inspect.cursor as i64 + d).clamp(0, (n - 1).max(0)) as usize;
            }
            Action::InspectTop => self.inspect.cursor = 0,
            Action::InspectBottom => {
                self.inspect.cursor = self.inspect.groups.as_ref().map_or(0, |g| g.len().saturating_sub(1));
            }
            Action::InspectNextPart | Action::InspectPrevPart => {
                use crate::inspect::Browse;
                let i = Browse::ALL.iter().position(|b| *b == self.inspect.browse).unwrap_or(0);
                let n = Browse::ALL.len();
                let j = if a == Action::InspectNextPart { (i + 1) % n } else { (i + n - 1) % n };
                self.inspect.browse = Browse::ALL[j];
                self.inspect.cursor = 0;
                self.load_groups(fx);
            }
            Action::InspectOpen => {
                let chosen = self.inspect.groups.as_ref().and_then(|g| g.get(self.inspect.cursor));
                match chosen {
                    Some(g) => {
                        let one = self.inspect.browse.one();
                        let key: String = g.key.chars().take(28).collect();
                        let label = format!("{one} \"{key}{}\"", if key.len() < g.key.len() { "…" } else { "" });
                        let ids = g.samples.iter().cloned().collect();
                        self.list_only(label, ids, fx);
                        self.toast(format!("the samples of this {one}: esc lists every sample again"));
                    }
                    None => self.toast("nothing to list"),
                }
            }
            _ => {}
        }
    }

    /// Shows a view; the inspect view reads its groups anew each time it is shown.
    pub(super) fn show_view(&mut self, v: View, fx: &mut Vec<Effect>) {
        self.view = v;
        if v == View::Inspect {
            self.load_groups(fx);
        }
    }

    fn load_groups(&mut self, fx: &mut Vec<Effect>) {
        self.inspect.groups = None;
        fx.push(Effect::Store(StoreFx::LoadGroups(self.inspect.browse)));
    }

    /// The samples view listing only `ids` (the filters and the search off).
    pub(super) fn list_only(&mut self, label: String, ids: std::collections::HashSet<String>, fx: &mut Vec<Effect>) {
        self.list.only = Some((label, ids));
        self.list.filters = Filters::default();
        self.list.clear_search();
        self.list.queue = false;
        self.view = View::Samples;
        self.focus = Focus::List;
        self.list.cursor = 0;
        self.refilter(fx);
        self.set_cursor(0, fx);
    }

    pub(super) fn set_target(&mut self, n: usize) {
        self.target = n;
        if self.run.status.in_flight() {
            self.toast(format!("target {n}: for the next run (s after this one ends)"));
        } else {
            self.run.target = n;
        }
    }

    pub(super) fn set_concurrency(&mut self, n: usize, fx: &mut Vec<Effect>) {
        self.run.concurrency = Some(n);
        if self.run.status.in_flight() {
            fx.push(Effect::Run(RunFx::SetConcurrency(n)));
        }
    }
}
