//! The messages about the run and about undo, folded into the app.

#[allow(clippy::wildcard_imports)]
use super::*;

impl App {
    /// The pipeline's events and the run's start and end.
    pub(super) fn on_run(&mut self, msg: Msg, fx: &mut Vec<Effect>) {
        match msg {
            Msg::Pipeline(e) => {
                if matches!(e, Event::SampleEnded { .. }) {
                    self.rows_dirty = true;
                }
                if let (Some(_), Event::SampleEnded { outcome: crate::pipeline::Outcome::Failed { reason, .. }, .. }) =
                    (self.pending_rerun, &e)
                {
                    self.pending_rerun = None;
                    self.toast(format!("the step was {reason}"));
                }
                self.run.apply(&e, self.clock);
                if matches!(e, Event::EndpointDown { .. } | Event::RunStopped { .. } | Event::Notice { .. }) {
                    // Said where it is seen from any view, not only in the pipeline view.
                    self.toast(self.run.message.clone());
                }
            }
            Msg::RunStarted { target, already_done, concurrency, simulated } => {
                self.run = RunState::new(target);
                self.run.status = RunStatus::Running;
                self.run.already_done = already_done;
                self.run.concurrency = concurrency;
                self.run.started_at = Some(self.clock);
                self.run.bucket_start = self.clock;
                self.simulated = simulated;
                self.run.message = if already_done > 0 {
                    format!("{already_done} of {target} were done before; this run makes the rest")
                } else {
                    String::new()
                };
            }
            Msg::RunNotStarted(e) => {
                self.run.status = RunStatus::Failed;
                self.run.message.clone_from(&e);
                self.toast(format!("the run did not start: {e}"));
            }
            Msg::RunFinished(r) => {
                let r_ok = r.as_ref().ok().map(|s| s.cancelled);
                self.run.set_paused(false, self.clock);
                self.run.ended_at = Some(self.clock);
                self.run.in_flight.clear();
                match r {
                    Ok(s) => {
                        self.run.status = if s.cancelled { RunStatus::Cancelled } else { RunStatus::Finished };
                        let text = match self.pending_rerun {
                            Some(old) if !s.cancelled => format!("call #{old} asked again"),
                            _ => format!(
                                "run {}: {} complete, {} failed{} this run",
                                if s.cancelled { "cancelled" } else { "finished" },
                                s.complete,
                                s.failed,
                                if s.stopped > 0 {
                                    format!(", {} stopped (unfinished: the next run resumes them)", s.stopped)
                                } else {
                                    String::new()
                                }
                            ),
                        };
                        self.run.message.clone_from(&text);
                        self.toast(text);
                    }
                    Err(e) => {
                        self.run.status = RunStatus::Failed;
                        self.run.message = e.to_string();
                        self.toast(format!("the run stopped: {e}"));
                    }
                }
                self.run.stage_of.clear();
                fx.push(Effect::Store(StoreFx::LoadRows));
                if let Some(id) = self.pending_fork.take() {
                    self.show_fork_for = Some(id.clone());
                    fx.push(Effect::Store(StoreFx::LoadSample(id)));
                }
                if let Some(old) = self.pending_rerun.take()
                    && matches!(r_ok, Some(false))
                {
                    fx.push(Effect::Store(StoreFx::LoadRerun { old }));
                }
            }
            _ => {}
        }
    }

    /// What undo (or redo) would do, and what it did.
    pub(super) fn on_undo(&mut self, msg: Msg, fx: &mut Vec<Effect>) {
        let word = |redo: bool| if redo { "redo" } else { "undo" };
        match msg {
            Msg::NextUndo { redo, entry: None } | Msg::Undone { redo, entry: None } => self.toast(if redo {
                "nothing to redo: nothing of this session was undone since its last change".to_string()
            } else {
                "nothing of this session to undo (button undo on the command line undoes older actions)".to_string()
            }),
            Msg::NextUndo { redo, entry: Some(e) } => {
                let on_screen = self.selected().is_some_and(|r| r.id == e.sample_id);
                let changes_content =
                    matches!(e.action, crate::store::Action::Edit { .. } | crate::store::Action::Restore { .. });
                let go = Effect::Store(if redo { StoreFx::Redo } else { StoreFx::Undo });
                if changes_content && !on_screen {
                    let w = word(redo);
                    self.overlay = Some(Overlay::Ask(Box::new(crate::tui::overlay::Ask {
                        title: format!("{} on another sample?", if redo { "Redo" } else { "Undo" }),
                        text: format!(
                            "The last change {w} would take is the {} on {}, which is not the sample on screen. \
                             Doing it changes that sample's content.",
                            e.action.describe(),
                            e.sample_id
                        ),
                        choices: vec![crate::tui::overlay::Choice {
                            action: Action::AskYes,
                            label: format!("{w} it (the list goes to {})", e.sample_id),
                            cmds: vec![crate::tui::overlay::Cmd::Effect(go)],
                        }],
                    })));
                } else {
                    fx.push(go);
                }
            }
            Msg::Undone { redo, entry: Some(entry) } => {
                self.toast(format!(
                    "{} {}{}",
                    if redo { "redid" } else { "undid" },
                    entry.describe(),
                    if redo { "" } else { " (ctrl-r redoes it)" }
                ));
                // Go back to the sample, so the undone verdict can be given again.
                if let Some(pos) = self.list.visible.iter().position(|i| self.list.rows[*i].id == entry.sample_id) {
                    self.list.cursor = pos;
                }
                if self.selected().is_some_and(|r| r.id == entry.sample_id) {
                    fx.push(Effect::Store(StoreFx::LoadSample(entry.sample_id)));
                }
            }
            _ => {}
        }
    }
}
