//! Every action with its id, context, default keys and description: the table the
//! dispatcher, help, the hint bar, the palette and `[keys]` all read.

use super::Context;

actions! {
    Quit "quit" Global ["q"] "quit (asks first only while a run is in flight)";
    ForceQuit "force_quit" Global ["ctrl-c"] "quit at once from anywhere; a run is cancelled, nothing committed is lost";
    Back "back" Global ["esc"] "step back: leave the queue, the trajectory, the lineage or the search";
    Help "help" Global ["?"] "show every key";
    Palette "palette" Global [":"] "command palette: every action by name";
    FocusNext "focus_next" Global ["tab"] "move focus to the next pane";
    FocusPrev "focus_prev" Global ["backtab"] "move focus to the previous pane";
    ViewPipeline "view_pipeline" Global ["1"] "the pipeline view";
    ViewSamples "view_samples" Global ["2"] "the samples view: list and lineage";
    ViewTrajectory "view_trajectory" Global ["3"] "the trajectory view of the selected sample";
    ViewInspect "view_inspect" Global ["4"] "inspect by part: every scenario, atomic task, composition, function, failure";
    Undo "undo" Global ["u"] "undo the last verdict or edit (without limit, also after a restart)";
    Redo "redo" Global ["ctrl-r"] "redo what the last undo undid (until something new is done)";
    ReviewQueue "review_queue" Global ["R"] "review queue: walk the complete samples awaiting a verdict";
    FlaggedQueue "flagged_queue" Global ["Q"] "flagged queue: walk the samples flagged for a second look";
    NextTheme "next_theme" Global ["T"] "switch to the next theme";
    Log "log" Global ["L"] "the workspace log, newest first: runs, failures, edits, every message in full";
    StartRun "start_run" Pipeline ["s"] "start (or resume) the run toward the target";
    PauseResume "pause_resume" Pipeline ["p"] "pause or resume the run";
    CancelRun "cancel_run" Pipeline ["c"] "cancel the run (finished calls are kept)";
    ConcurrencyUp "concurrency_up" Pipeline ["+", "="] "more LLM calls in flight";
    ConcurrencyDown "concurrency_down" Pipeline ["-"] "fewer LLM calls in flight";
    TargetUp "target_up" Pipeline ["]"] "raise the target number of samples";
    TargetDown "target_down" Pipeline ["["] "lower the target number of samples";
    TypeTarget "type_target" Pipeline ["t"] "type the target number of samples";
    TypeConcurrency "type_concurrency" Pipeline ["C"] "type the number of LLM calls in flight";
    ErrorsDown "errors_down" Pipeline ["j", "down"] "the next reason samples failed for (errors panel)";
    ErrorsUp "errors_up" Pipeline ["k", "up"] "the previous reason samples failed for";
    ErrorsOpen "errors_open" Pipeline ["enter"] "list the samples that failed for the chosen reason";
    Down "down" Samples ["j", "down"] "next sample (or lineage part)";
    Up "up" Samples ["k", "up"] "previous sample (or lineage part)";
    PageDown "page_down" Samples ["pagedown", "ctrl-d"] "a page down (scrolls the lineage part when it has focus)";
    PageUp "page_up" Samples ["pageup", "ctrl-u"] "a page up";
    Top "top" Samples ["home"] "first sample";
    Bottom "bottom" Samples ["G", "end"] "last sample";
    Search "search" Samples ["/"] "search all the text of the samples";
    NextMatch "next_match" Samples ["n"] "the next sample that matches the search";
    PrevMatch "prev_match" Samples ["N"] "the previous sample that matches the search";
    Filters "filters" Samples ["F"] "filters: status, strategy, stage, lint code, verdict, stale";
    ClearFilters "clear_filters" Samples ["0"] "clear every filter and the search";
    Sort "sort" Samples ["o"] "sort by the next key (order, turns, calls, lint findings, verdict)";
    SortReverse "sort_reverse" Samples ["O"] "reverse the sort";
    Open "open" Samples ["enter"] "open the selected sample's trajectory";
    Accept "accept" Samples ["a"] "accept, save, and go to the next sample";
    Reject "reject" Samples ["x"] "reject with a reason, save, and go to the next sample";
    Skip "skip" Samples ["space"] "skip to the next sample without a verdict";
    Flag "flag" Samples ["f"] "flag for a second look, save, and go on";
    AcceptAll "accept_all" Samples ["A"] "accept every listed complete, up-to-date sample (asks first)";
    RejectAll "reject_all" Samples ["X"] "reject every listed complete, up-to-date sample (asks first)";
    CallOfPart "call_of_part" Samples ["l"] "the LLM call that made the selected lineage part";
    Edit "edit" Samples ["e"] "edit the selected lineage part (scenario, atomic task, composition, functions)";
    ExternalEdit "external_edit" Samples ["E"] "edit the selected lineage part in $EDITOR";
    Regenerate "regenerate" Samples ["g"] "make the stale parts of the selected sample again, or retry it if it failed";
    RegenerateAll "regenerate_all" Samples ["ctrl-g"] "make every listed stale sample again and retry every listed failed one";
    Diff "diff" Samples ["D"] "the sample's edits and regenerations as diffs";
    History "history" Samples ["H"] "the sample's history: verdicts, edits, versions; enter restores one";
    NextTurn "next_turn" Trajectory ["n"] "next turn (with a search: the next turn that matches, on into the next sample)";
    PrevTurn "prev_turn" Trajectory ["p"] "previous turn";
    TrajPrevMatch "traj_prev_match" Trajectory ["N"] "the previous turn that matches the search (back into the previous sample)";
    CallOfTurn "call_of_turn" Trajectory ["l"] "the LLM call that made this turn: prompt, raw reply, latency, tokens";
    ScrollDown "scroll_down" Trajectory ["j", "down"] "scroll down";
    ScrollUp "scroll_up" Trajectory ["k", "up"] "scroll up";
    TrajPageDown "traj_page_down" Trajectory ["pagedown"] "a page down";
    TrajPageUp "traj_page_up" Trajectory ["pageup"] "a page up";
    TrajHalfDown "traj_half_down" Trajectory ["ctrl-d"] "half a page down";
    TrajHalfUp "traj_half_up" Trajectory ["ctrl-u"] "half a page up";
    TrajTop "traj_top" Trajectory ["home"] "the first turn";
    TrajBottom "traj_bottom" Trajectory ["G", "end"] "the last turn: the final answer";
    TrajCompact "traj_compact" Trajectory ["c"] "compact: one line per turn (calls and results in brief), or back to full";
    TrajExpand "traj_expand" Trajectory ["enter"] "compact: open or fold the current turn in full";
    TrajAccept "traj_accept" Trajectory ["a"] "accept and open the next sample";
    TrajReject "traj_reject" Trajectory ["x"] "reject with a reason and open the next sample";
    TrajSkip "traj_skip" Trajectory ["space"] "skip to the next sample";
    TrajFlag "traj_flag" Trajectory ["f"] "flag and open the next sample";
    TrajEdit "traj_edit" Trajectory ["e"] "edit this turn (a user message, an assistant turn, tool results)";
    TrajExternalEdit "traj_external_edit" Trajectory ["E"] "edit this turn in $EDITOR";
    Fork "fork" Trajectory ["b"] "fork: edit this turn, let the dialogue go on from it, compare the branches";
    TrajDiff "traj_diff" Trajectory ["D"] "the sample's edits and regenerations as diffs";
    TrajHistory "traj_history" Trajectory ["H"] "the sample's history: verdicts, edits, versions; enter restores one";
    TrajRegenerate "traj_regenerate" Trajectory ["g"] "make the stale parts of this sample again, or retry it if it failed";
    InspectDown "inspect_down" Inspect ["j", "down"] "the next one";
    InspectUp "inspect_up" Inspect ["k", "up"] "the previous one";
    InspectPageDown "inspect_page_down" Inspect ["pagedown", "ctrl-d"] "a page down";
    InspectPageUp "inspect_page_up" Inspect ["pageup", "ctrl-u"] "a page up";
    InspectTop "inspect_top" Inspect ["home", "g"] "the first (the most samples)";
    InspectBottom "inspect_bottom" Inspect ["end", "G"] "the last";
    InspectNextPart "inspect_next_part" Inspect ["l", "right"] "the next part: scenarios, atomic tasks, compositions, functions, failures";
    InspectPrevPart "inspect_prev_part" Inspect ["h", "left"] "the previous part";
    InspectOpen "inspect_open" Inspect ["enter"] "list the samples that hold the chosen one";
    ReadClose "read_close" Reader ["esc", "q"] "close";
    ReadDown "read_down" Reader ["j", "down"] "scroll down";
    ReadUp "read_up" Reader ["k", "up"] "scroll up";
    ReadPageDown "read_page_down" Reader ["pagedown", "space"] "a page down";
    ReadPageUp "read_page_up" Reader ["pageup"] "a page up";
    ReadHalfDown "read_half_down" Reader ["ctrl-d"] "half a page down";
    ReadHalfUp "read_half_up" Reader ["ctrl-u"] "half a page up";
    ReadTop "read_top" Reader ["home", "g"] "back to the top";
    ReadBottom "read_bottom" Reader ["end", "G"] "to the end";
    HelpClose "help_close" Help ["?"] "close the keys";
    PaletteDown "palette_down" Palette ["down"] "next action";
    PaletteUp "palette_up" Palette ["up"] "previous action";
    PaletteRun "palette_run" Palette ["enter"] "do the chosen action";
    PaletteClose "palette_close" Palette ["esc"] "close, doing nothing";
    PaletteErase "palette_erase" Palette ["ctrl-u"] "erase the field";
    SearchKeep "search_keep" Search ["enter"] "keep the search and go back to the list";
    SearchClear "search_clear" Search ["esc"] "clear the search";
    SearchErase "search_erase" Search ["ctrl-u"] "erase the field (and the search)";
    FilterDown "filter_down" Filters ["j", "down"] "next filter";
    FilterUp "filter_up" Filters ["k", "up"] "previous filter";
    FilterNext "filter_next" Filters ["l", "right", "space"] "the filter's next choice";
    FilterPrev "filter_prev" Filters ["h", "left"] "the filter's previous choice";
    FilterClear "filter_clear" Filters ["0"] "clear every filter";
    FilterClose "filter_close" Filters ["esc", "enter", "F", "q"] "close";
    ReasonDown "reason_down" Reason ["j", "down"] "next reason";
    ReasonUp "reason_up" Reason ["k", "up"] "previous reason";
    ReasonPick "reason_pick" Reason ["enter"] "reject for the marked reasons (or the chosen one)";
    ReasonMark "reason_mark" Reason ["space"] "mark or unmark the chosen reason (several reasons at once)";
    ReasonCancel "reason_cancel" Reason ["esc"] "no verdict";
    ReasonHallucinated "reason_hallucinated_function" Reason ["1"] "reject: hallucinated function";
    ReasonBadArguments "reason_bad_arguments" Reason ["2"] "reject: bad arguments";
    ReasonLeaksPlan "reason_user_leaks_plan" Reason ["3"] "reject: the user message leaks the plan";
    ReasonPrematureFinal "reason_premature_final" Reason ["4"] "reject: premature final answer";
    ReasonInconsistent "reason_inconsistent_tool_result" Reason ["5"] "reject: inconsistent tool result";
    ReasonNotCompositional "reason_not_compositional" Reason ["6"] "reject: not compositional";
    ReasonOther "reason_other" Reason ["7"] "reject for another reason, with a note";
    NoteSave "note_save" Note ["enter"] "reject with this note";
    NoteBack "note_back" Note ["esc"] "back to the reasons";
    CallClose "call_close" Call ["l"] "close the call";
    CallTemplate "call_template" Call ["t"] "edit this step's prompt template";
    CallRerun "call_rerun" Call ["r"] "ask this step again with the templates as they are now";
    DiffClose "diff_close" Diff ["D"] "close the diff";
    RerunTemplate "rerun_template" Rerun ["t"] "edit the step's template again (back here after)";
    RerunAgain "rerun_again" Rerun ["r"] "ask the step again with the templates as they are now";
    RerunKeep "rerun_keep" Rerun ["K"] "keep the new reply for the sample (a hand edit: u undoes it)";
    RerunNext "rerun_next" Rerun ["n"] "the same step's call of the next listed sample";
    EditorSave "editor_save" Editor ["ctrl-s"] "save (only text that checks out)";
    EditorDiff "editor_diff" Editor ["ctrl-d"] "show or hide the diff against the original";
    EditorExternal "editor_external" Editor ["ctrl-e"] "hand the text to $EDITOR";
    EditorCancel "editor_cancel" Editor ["esc"] "cancel (closes the diff first)";
    CompareNext "compare_next" Compare ["n", "j", "down"] "next turn";
    ComparePrev "compare_prev" Compare ["p", "k", "up"] "previous turn";
    KeepCurrent "keep_current" Compare ["1"] "keep the current branch, drop the fork";
    KeepFork "keep_fork" Compare ["2"] "keep the fork as the sample's trajectory";
    CompareLater "compare_later" Compare ["esc", "q"] "decide later";
    ConfirmQuit "confirm_quit" Confirm ["y", "enter"] "quit and cancel the run";
    ConfirmStay "confirm_stay" Confirm ["n", "esc"] "stay (any other key does too)";
    AskYes "ask_yes" Ask ["y", "enter"] "yes: what the question offers first";
    AskAlt "ask_alt" Ask ["k"] "the other way offered (keep the hand edits)";
    AskNo "ask_no" Ask ["n", "esc"] "no: do nothing";
    NumberSave "number_save" Number ["enter"] "set the number";
    NumberCancel "number_cancel" Number ["esc"] "leave it as it was";
    NumberErase "number_erase" Number ["ctrl-u"] "erase the field";
    HistoryDown "history_down" History ["j", "down"] "the next (older) step";
    HistoryUp "history_up" History ["k", "up"] "the previous (newer) step";
    HistoryTop "history_top" History ["home", "g"] "the newest step";
    HistoryBottom "history_bottom" History ["end", "G"] "the oldest step";
    HistoryRestore "history_restore" History ["enter"] "put this version back (asks first; u takes it back)";
    HistoryClose "history_close" History ["esc", "H", "q"] "close";
}

impl Action {
    /// The word the hint bar shows.
    pub fn word(self) -> String {
        let fixed = match self {
            Action::PauseResume => "pause",
            Action::ConcurrencyUp => "conc+",
            Action::ConcurrencyDown => "conc-",
            Action::TargetUp => "target+",
            Action::TargetDown => "target-",
            Action::ViewSamples => "samples",
            Action::CallOfTurn => "llm call",
            Action::ReviewQueue => "queue",
            Action::StartRun => "start",
            Action::CancelRun => "cancel",
            Action::ReadPageDown => "page down",
            Action::ReadTop => "top",
            Action::FilterNext => "change",
            Action::ReasonPick => "reject",
            Action::ReasonMark => "mark",
            Action::ReasonOther => "other…",
            Action::CallTemplate => "edit template",
            Action::CallRerun => "ask again",
            Action::KeepCurrent => "keep current",
            Action::KeepFork => "keep fork",
            Action::CompareLater => "decide later",
            Action::ConfirmQuit => "quit",
            Action::ConfirmStay => "stay",
            Action::AskYes => "yes",
            Action::AskAlt => "keep edits",
            Action::AskNo => "nothing",
            Action::PaletteRun => "run",
            Action::SearchKeep => "keep",
            Action::SearchClear => "clear",
            Action::NoteSave => "reject",
            Action::NoteBack => "back",
            Action::HistoryDown => "older",
            Action::ViewInspect => "inspect",
            Action::InspectNextPart => "next part",
            Action::InspectPrevPart => "prev part",
            Action::InspectOpen => "list samples",
            Action::TypeTarget => "type target",
            Action::TypeConcurrency => "type conc",
            Action::ErrorsOpen => "list failed",
            Action::NumberSave => "set",
            Action::RerunTemplate => "edit template",
            Action::RerunAgain => "ask again",
            Action::RerunKeep => "keep new",
            Action::RerunNext => "next sample",
            Action::NumberCancel => "cancel",
            Action::NextMatch => "next match",
            Action::PrevMatch | Action::TrajPrevMatch => "prev match",
            Action::HistoryUp => "newer",
            Action::HistoryRestore => "restore",
            _ => "",
        };
        if !fixed.is_empty() {
            return fixed.to_string();
        }
        let id = self.id();
        let id = [
            "traj_", "inspect_", "history_", "errors_", "number_", "read_", "palette_", "search_", "filter_",
            "reason_", "call_", "editor_", "compare_", "help_", "diff_",
        ]
        .iter()
        .find_map(|p| id.strip_prefix(p))
        .unwrap_or(id);
        id.replace('_', " ")
    }
}
